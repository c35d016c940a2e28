"""The launch badges and cell: Colab installs the collection, Binder and local runs do nothing.
Colab and Binder cannot be reached from here; this checks the detection and the command."""

import os
import subprocess
import sys
import types

import nbformat
import pytest

from llm4rec_utils.tooling import launch
from llm4rec_utils.tooling.runner import list_notebooks

NOTEBOOKS = list_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badges_and_launch_cell_open_every_notebook(path):
    nb = nbformat.read(path, as_version=4)
    title = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown")
    assert nb.cells[title].source.startswith(launch.badges(path.name))
    assert f"notebooks/{path.name}" in nb.cells[title].source
    assert nb.cells[title + 1].source == launch.launch_cell()
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source == launch.launch_cell()


def run_cell(monkeypatch, colab: bool, cloned: bool = False):
    calls, moves = [], []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setattr(os, "chdir", moves.append)
    monkeypatch.setattr(os.path, "isdir", lambda p: cloned and p == "/content/llm4rec")
    monkeypatch.setattr(sys, "path", list(sys.path))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(launch.launch_cell(), {})
    return calls, moves


def test_on_colab_it_clones_installs_and_moves_into_the_notebooks(monkeypatch):
    calls, moves = run_cell(monkeypatch, colab=True)
    assert len(calls) == 1
    cmd, kw = calls[0]
    assert cmd == (
        f"git clone -q --depth 1 -b {launch.BRANCH} https://github.com/{launch.REPO} "
        f"/content/llm4rec && {launch.COLAB_INSTALL}"
    )
    assert launch.COLAB_INSTALL == (
        "pip install -q -r /content/llm4rec/requirements/colab.txt"
        " && pip install -q --no-deps -e /content/llm4rec"
    )
    assert kw == {"shell": True, "check": True}
    assert moves == ["/content/llm4rec/notebooks"] and sys.path[0] == "/content/llm4rec"


def test_a_second_run_on_colab_does_not_install_again(monkeypatch):
    calls, moves = run_cell(monkeypatch, colab=True, cloned=True)
    assert calls == [] and moves == ["/content/llm4rec/notebooks"]


def test_locally_and_on_binder_it_does_nothing(monkeypatch):
    monkeypatch.setenv("BINDER_SERVICE_HOST", "10.0.0.1")
    calls, moves = run_cell(monkeypatch, colab=False)
    assert calls == [] and moves == []


def test_binder_builds_the_kernel_and_data():
    from llm4rec_utils.tooling.runner import REPO_ROOT

    post = (REPO_ROOT / "binder" / "postBuild").read_text()
    assert "ipykernel install --user --name llm4rec" in post and "llm4rec_utils.data" in post
    assert os.access(REPO_ROOT / "binder" / "postBuild", os.X_OK)
    assert "pip install --no-deps -e ." in post  # environment.yml installs the lock only


def test_a_fork_gets_its_own_links(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    copy = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, copy)
    assert launch.apply(copy, repo="someone/fork") is True
    text = copy.read_text()
    assert "github/someone/fork/blob/main/notebooks/" in text and "llm4rec/llm4rec" not in text
    assert launch.apply(copy, repo="someone/fork") is False  # idempotent
    cells = nbformat.read(copy, as_version=4).cells
    assert sum(c.source.startswith(launch.CELL_MARK) for c in cells) == 1


def test_colab_installs_the_ranges_without_torch():
    """Colab's torch is a CUDA build matched to its GPU: the launch cell must never replace it,
    and must not refuse Colab's Python (requirements/colab.txt is pyproject's runtime ranges
    without torch; the package itself goes in with --no-deps)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    from llm4rec_utils.tooling.runner import REPO_ROOT

    lines = (REPO_ROOT / "requirements" / "colab.txt").read_text().splitlines()
    wanted = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = [d for d in project["dependencies"] if Requirement(d).name != "torch"]
    assert wanted == runtime
    assert not any(Requirement(w).name == "torch" for w in wanted)
    admitted = SpecifierSet(project["requires-python"])
    for python in ("3.11", "3.12", "3.13"):  # Colab moves to a new Python on its own schedule
        assert admitted.contains(python)
