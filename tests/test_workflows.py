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
