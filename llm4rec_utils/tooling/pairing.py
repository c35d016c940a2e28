"""Reviewable diffs: every notebook has a jupytext ``py:percent`` twin under ``notebooks_py/``.

A notebook's JSON diff is hard to read; its ``py:percent`` twin shows a teacher's change as
ordinary lines of Python and markdown comments. The notebook is the source of truth:
``make pair`` rewrites the twins, and ``tests/test_pairing.py`` fails when a twin is stale.
A teacher who edits a twin brings the change back with ``jupytext --sync notebooks_py/X.py``
(``jupytext.toml`` declares the pairing).

    python -m llm4rec_utils.tooling.pairing          # rewrite every twin
    python -m llm4rec_utils.tooling.pairing --check  # exit 1 and name the stale twins
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext
import nbformat

from .runner import REPO_ROOT, list_notebooks

TWIN_DIR = REPO_ROOT / "notebooks_py"
FORMAT = "py:percent"


def twin_path(notebook: Path) -> Path:
    return TWIN_DIR / f"{notebook.stem}.py"


def twin_text(notebook: Path) -> str:
    """The ``py:percent`` text of a notebook, outputs left out (they are never committed)."""
    nb = nbformat.read(notebook, as_version=4)
    return jupytext.writes(nb, fmt=FORMAT)


def stale_twins(notebooks: list[Path] | None = None) -> list[str]:
    """Notebooks whose twin is missing or differs from the notebook."""
    out = []
    for nb in notebooks or list_notebooks():
        twin = twin_path(nb)
        if not twin.exists() or twin.read_text(encoding="utf-8") != twin_text(nb):
            out.append(nb.stem)
    return out


def write_twins(notebooks: list[Path] | None = None) -> list[Path]:
    TWIN_DIR.mkdir(exist_ok=True)
    written = []
    for nb in notebooks or list_notebooks():
        twin_path(nb).write_text(twin_text(nb), encoding="utf-8")
        written.append(twin_path(nb))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm4rec_utils.tooling.pairing")
    parser.add_argument("--check", action="store_true", help="only report stale twins")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_twins()
        for name in stale:
            print(f"{name}: its twin in notebooks_py/ is stale; run `make pair`")
        return 1 if stale else 0
    for path in write_twins():
        print(path.relative_to(REPO_ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
