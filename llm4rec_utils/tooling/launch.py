"""One-click launch: the "Open in Colab" / Binder badges and the first code cell of every notebook.

On Colab the package is not installed: the notebook's launch cell (:data:`LAUNCH_CELL`, the
same text in every notebook, so it works before this package exists there) clones the
repository, installs what Colab lacks (:data:`COLAB_INSTALL`: ``requirements/colab.txt``,
pyproject's ranges without torch, so Colab's own CUDA torch is kept, on whatever Python Colab
runs), then the package itself without dependencies, and moves into its ``notebooks/`` folder
so the relative paths work; the data set is then fetched and checksummed by the loader on first
use, as on any machine. Binder builds the environment itself from ``environment.yml`` and
``binder/postBuild`` (which also registers the ``llm4rec`` kernel), so the cell does nothing
there; locally it does nothing either.

``make badges REPO=owner/name`` rewrites the badges and the cell for a fork.
"""

from __future__ import annotations

import argparse
import re

import nbformat

from .runner import list_notebooks

REPO = "llm4rec/llm4rec"  # owner/name on GitHub; `make badges REPO=...` changes it everywhere
BRANCH = "main"
CELL_MARK = "# Launch cell:"
CLONE = "/content/llm4rec"
# What the launch cell runs after cloning: never torch (Colab's build matches its GPU)
COLAB_INSTALL = (
    f"pip install -q -r {CLONE}/requirements/colab.txt && pip install -q --no-deps -e {CLONE}"
)
BADGE_MARK = "colab-badge.svg"

LAUNCH_CELL = """# Launch cell: on Colab, install the collection first (Binder, local runs skip it).
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("/content/llm4rec"):
    subprocess.run("git clone -q --depth 1 -b {branch} https://github.com/{repo} /content/llm4rec"
                   " && pip install -q -r /content/llm4rec/requirements/colab.txt"
                   " && pip install -q --no-deps -e /content/llm4rec", shell=True, check=True)
if "google.colab" in sys.modules:
    sys.path.insert(0, "/content/llm4rec")
    os.chdir("/content/llm4rec/notebooks")"""


def launch_cell(repo: str = REPO, branch: str = BRANCH) -> str:
    return LAUNCH_CELL.format(repo=repo, branch=branch)


def badges(notebook: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """The markdown line of badges for ``notebooks/<notebook>``."""
    colab = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"
    binder = f"https://mybinder.org/v2/gh/{repo}/{branch}?labpath=notebooks%2F{notebook}"
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/{BADGE_MARK})]({colab}) "
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})"
    )


def apply(path, repo: str = REPO, branch: str = BRANCH) -> bool:
    """Put the badges on top of the notebook's title cell and the launch cell right after it
    (replacing older ones). Returns True when the notebook changed."""
    nb = nbformat.read(path, as_version=4)
    title = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown")
    lines = [ln for ln in nb.cells[title].source.splitlines() if BADGE_MARK not in ln]
    while lines and not lines[0].strip():
        lines.pop(0)
    new_title = badges(path.name, repo, branch) + "\n\n" + "\n".join(lines)
    cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.startswith(CELL_MARK))]
    before = [c.source for c in nb.cells]
    nb.cells = cells
    nb.cells[title].source = new_title
    nb.cells.insert(title + 1, nbformat.v4.new_code_cell(launch_cell(repo, branch)))
    if [c.source for c in nb.cells] == before:
        return False
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm4rec_utils.tooling.launch")
    parser.add_argument("--repo", default=REPO, help="owner/name of the GitHub repository")
    parser.add_argument("--branch", default=BRANCH)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo):
        parser.error(f"--repo must look like owner/name, got {args.repo!r}")
    for path in list_notebooks():
        if apply(path, args.repo, args.branch):
            print("updated", path.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
