"""The GitHub Actions workflows users run: linted (actionlint, zizmor) and consistent with the
Makefile, so a broken workflow fails here rather than on a user's fork."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llm4rec_utils.tooling.runner import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: `make install` installs the dev extras"
    return path


def test_there_are_workflows_for_cpu_gate_full_run_and_gpu():
    assert {p.stem for p in WORKFLOWS} >= {"ci", "full-run", "gpu"}


def test_actionlint_passes():
    proc = subprocess.run([tool("actionlint"), *map(str, WORKFLOWS)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_passes_offline():
    proc = subprocess.run([tool("zizmor"), "--offline", "--no-progress", ".github/workflows"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_workflows_call_only_make_targets_that_exist(workflow):
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))
    used = set(re.findall(r"\bmake ([a-z][\w-]*)", workflow.read_text()))
    assert used, f"{workflow.name} runs no make target"
    assert used <= targets, f"{workflow.name} calls missing targets {used - targets}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.stem)
def test_actions_are_pinned_to_commits_and_permissions_are_least(workflow):
    text = workflow.read_text()
    for ref in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"pin {ref} to a commit"
    assert re.search(r"^permissions:\n  contents: read$", text, re.M)
    assert "timeout-minutes" in text and "persist-credentials: false" in text


def _steps(name: str) -> list[dict]:
    import yaml

    wf = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / f"{name}.yml").read_text())
    return [step for job in wf["jobs"].values() for step in job.get("steps", [])]


def test_pages_publish_only_the_site_folder_the_package_builds():
    """GitHub Pages gets build/site/ (report, notebook pages, figures: report.pages_files),
    never build/ itself with its cache/ of model weights and data-derived files."""
    steps = _steps("full-run")
    pages = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert [s["with"]["path"] for s in pages] == ["build/site/"]
    builds = [i for i, s in enumerate(steps) if "tooling.report pages build build/site" in
              s.get("run", "")]
    assert builds and builds[0] < steps.index(pages[0])
    for name in ("full-run", "gpu"):
        for s in _steps(name):
            if s.get("uses", "").startswith("actions/upload-artifact@"):
                assert "!build/cache/" in s["with"]["path"], name


@pytest.mark.parametrize("workflow", ["full-run", "gpu"])
@pytest.mark.parametrize("notebooks, ok", [("", True), ("01 03", True),
                                           ("03_attention_math", True),
                                           ("01; echo INJECTED", False), ("$(id)", False),
                                           ("01\necho x", False), ("`id`", False)])
def test_the_notebooks_input_is_checked_before_it_reaches_make(workflow, notebooks, ok):
    steps = _steps(workflow)
    check = next(s for s in steps if "NOTEBOOKS" in s.get("env", {}) and "=~" in s["run"])
    run = next(i for i, s in enumerate(steps) if "make run" in s.get("run", ""))
    assert steps.index(check) < run
    env = {"PATH": "/usr/bin:/bin", "NOTEBOOKS": notebooks, "JOBS": "2"}
    proc = subprocess.run(["bash", "-e", "-c", check["run"]], env=env, capture_output=True,
                          text=True, timeout=30)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    assert "INJECTED" not in proc.stdout


def test_gpu_workflow_sets_up_the_same_python_as_ci():
    def setup(name):
        return [s for s in _steps(name) if s.get("uses", "").startswith("actions/setup-python@")]

    ci, gpu = setup("ci"), setup("gpu")
    assert gpu and gpu[0]["uses"] == ci[0]["uses"]
    assert str(gpu[0]["with"]["python-version"]) == "3.11"
    steps = _steps("gpu")
    install = next(i for i, s in enumerate(steps) if "make install" in s.get("run", ""))
    assert steps.index(gpu[0]) < install
