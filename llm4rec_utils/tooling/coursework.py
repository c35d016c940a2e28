"""Coursework from the committed notebooks: student editions, autograder bundles and grading,
with otter-grader (Berkeley's autograder; its ``otter assign`` notebook format).

A notebook takes part when it starts with otter's ``# ASSIGNMENT CONFIG`` raw cell. Its
exercises sit after the sections they belong to: a markdown task, the student's code cell with
the solution between ``# BEGIN SOLUTION`` / ``# END SOLUTION`` comments, then test cells
(public ones, and hidden ones whose first line is ``# HIDDEN``), all between otter's
``# BEGIN QUESTION`` ... ``# END QUESTION`` raw cells. The teacher's notebook runs as it is
(solutions included, the tests are plain asserts), so ``make test`` checks every solution.

Usage::

    python -m llm4rec_utils.tooling.coursework student   # build/student/, build/autograder/
    python -m llm4rec_utils.tooling.coursework grade 07 my.ipynb  # runs my.ipynb (smoke), grades
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from .cli import BadInput, OneLineParser, one_line
from .runner import REPO_ROOT, list_notebooks

CONFIG_MARK = "# ASSIGNMENT CONFIG"
# what a student must never see: otter's solution markers and the hidden-test marker
SOLUTION_MARKS = ("# BEGIN SOLUTION", "# END SOLUTION", "# HIDDEN")


def otter_bin() -> str:
    """The ``otter`` executable beside this interpreter (the project's virtual environment)."""
    exe = Path(sys.executable).with_name("otter")
    if not exe.exists():
        raise FileNotFoundError(f"{exe} missing: run `make install` (it installs otter-grader)")
    return str(exe)


def is_coursework(path: Path) -> bool:
    """True when the notebook carries otter's assignment config (its first raw cell)."""
    nb = nbformat.read(path, as_version=4)
    return any(c.cell_type == "raw" and c.source.startswith(CONFIG_MARK) for c in nb.cells)


def coursework_notebooks() -> list[Path]:
    return [p for p in list_notebooks() if is_coursework(p)]


def find_notebook(name: str) -> Path:
    """A coursework notebook by stem or number prefix (``"07"``)."""
    hits = [p for p in coursework_notebooks() if p.stem == name or p.stem.startswith(f"{name}_")]
    if len(hits) != 1:
        names = [p.stem for p in coursework_notebooks()]
        raise BadInput(f"{name!r} names no single coursework notebook; choose one of {names}")
    return hits[0]


def _identity(nb) -> tuple[str | None, str | None]:
    """(the ``NOTEBOOK = "..."`` name its setup cell assigns, its first ``# `` title)."""
    name = title = None
    for cell in nb.cells:
        if name is None and cell.cell_type == "code":
            m = re.search(r"^NOTEBOOK = [\"'](\w+)[\"']", cell.source, re.M)
            name = m and m.group(1)
        if title is None and cell.cell_type == "markdown":
            m = re.search(r"^# (.+)$", cell.source, re.M)
            title = m and m.group(1).strip()
    return name, title


def read_submission(submission: Path, path: Path):
    """The submitted notebook, checked: it exists, is a file, is notebook JSON and is a copy
    of ``path`` (same ``NOTEBOOK`` name, or same title). Anything else raises ``BadInput``
    in one line naming the file and what to submit instead."""
    submission = Path(submission)
    want = f"submit the .ipynb file of {path.stem} as Jupyter saved it"
    if not submission.exists():
        raise BadInput(f"no submission at {submission}: check the path (quote it if it has spaces)")
    if not submission.is_file():
        raise BadInput(f"{submission} is a folder, not a notebook: {want}")
    raw = submission.read_bytes()
    if not raw.strip():
        raise BadInput(f"{submission} is empty: {want}")
    try:
        json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        if not raw.lstrip().startswith(b"{"):
            raise BadInput(f"{submission} is not a notebook (not JSON): {want}") from None
        where = f" at line {err.lineno}, column {err.colno}" if hasattr(err, "lineno") else ""
        raise BadInput(f"{submission} is damaged notebook JSON{where}: {want}") from None
    try:
        nb = nbformat.reads(raw.decode(), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # noqa: BLE001 -- nbformat raises several kinds; all mean the same
        raise BadInput(
            f"{submission} is JSON but not a valid notebook ({one_line(err)[:120]}): {want}"
        ) from None
    got, want_id = _identity(nb), _identity(nbformat.read(path, as_version=4))
    if not ((got[0] and got[0] == want_id[0]) or (got[1] and got[1] == want_id[1])):
        other = next((p.stem for p in coursework_notebooks() if p != path and _same(got, p)), None)
        seems = f"it looks like {other}" if other else f"its title is {got[1]!r}"
        raise BadInput(
            f"{submission} is not a copy of {path.stem} ({seems}): grade it with the notebook it "
            f"belongs to{f' (NOTEBOOK={other[:2]})' if other else ''}, or submit {path.stem}"
        )
    return nb


def _same(identity: tuple, path: Path) -> bool:
    theirs = _identity(nbformat.read(path, as_version=4))
    return any(a and a == b for a, b in zip(identity, theirs, strict=True))


def questions(path: Path) -> list[dict]:
    """Each question's ``name``, ``points`` and number of test cells (0: not auto-graded)."""
    nb = nbformat.read(path, as_version=4)
    out, current, in_tests = [], None, False
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN QUESTION"):
            fields = dict(line.split(":", 1) for line in src.splitlines()[1:] if ":" in line)
            current = {k.strip(): v.strip() for k, v in fields.items()}
            current["tests"] = 0
            out.append(current)
        elif cell.cell_type == "raw" and src.startswith("# END QUESTION"):
            current = None
        elif cell.cell_type == "raw" and src.startswith(("# BEGIN TESTS", "# END TESTS")):
            in_tests = src.startswith("# BEGIN TESTS")
        elif current is not None and cell.cell_type == "code" and in_tests:
            current["tests"] += 1
    return out


def assign(path: Path, out_dir: Path) -> dict[str, Path]:
    """``otter assign`` one notebook into ``out_dir``; returns the student notebook, the
    autograder notebook (solutions and all tests) and the autograder zip."""
    work = Path(tempfile.mkdtemp(prefix="assign-"))
    try:
        subprocess.run(
            [otter_bin(), "assign", str(path), str(work / "dist")],
            check=True,
            capture_output=True,
            text=True,
            cwd=path.parent,
        )
        student_dir, grader_dir = out_dir / "student", out_dir / "autograder" / path.stem
        student_dir.mkdir(parents=True, exist_ok=True)
        if grader_dir.exists():
            shutil.rmtree(grader_dir)
        shutil.copytree(work / "dist" / "autograder", grader_dir)
        student = student_dir / path.name
        shutil.copy(work / "dist" / "student" / path.name, student)
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"otter assign failed on {path.name}:\n{err.stderr[-2000:]}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
    zips = sorted(grader_dir.glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"expected one autograder zip in {grader_dir}, found {len(zips)}")
    stable = grader_dir / "autograder.zip"
    zips[0].rename(stable)
    return {"student": student, "autograder": grader_dir / path.name, "zip": stable}


def build_student(
    out_dir: Path = REPO_ROOT / "build", names: list[str] | None = None
) -> list[dict]:
    """Student editions into ``out_dir/student`` and autograder bundles into
    ``out_dir/autograder/<notebook>/`` for every coursework notebook (or those named)."""
    paths = [find_notebook(n) for n in names] if names else coursework_notebooks()
    built = []
    for path in paths:
        built.append(assign(path, out_dir))
        leaks = solution_leaks(built[-1]["student"])
        if leaks:
            raise RuntimeError(f"{built[-1]['student']} still shows solution text: {leaks[:3]}")
    return built


def solution_leaks(student) -> list[str]:
    """The solution and hidden-test markers a student notebook (a path, or a notebook already
    read) still carries, in its sources or its outputs."""
    nb = student if isinstance(student, dict) else nbformat.read(student, as_version=4)
    text = json.dumps(nb["cells"])
    return [m for m in SOLUTION_MARKS if m in text]


WITHHELD = "(output withheld from the student edition: it quotes an exercise's solution)\n"


def _hidden_test(lines: list[str]) -> bool:
    """Whether otter reads a test cell as hidden: a first-line comment naming 'hidden' (``#
    HIDDEN``), or ``hidden:`` set true in a ``# BEGIN TEST CONFIG`` block (otter's rule; a
    config this cannot read counts as hidden)."""
    from otter.assign.tests_manager import BEGIN_TEST_CONFIG_REGEX, END_TEST_CONFIG_REGEX

    first = lines[0] if lines else ""
    hidden = first.lstrip().startswith("#") and bool(re.search(r"\bhidden\b", first, re.I))
    if re.match(BEGIN_TEST_CONFIG_REGEX, first, flags=re.I):
        end = next(
            (i for i, ln in enumerate(lines) if re.match(END_TEST_CONFIG_REGEX, ln, flags=re.I)),
            None,
        )
        if end is None:
            return True
        values = [re.match(r"\s*hidden\s*:\s*(\S*)", ln) for ln in lines[1:end]]
        values = [m.group(1).strip("'\"").lower() for m in values if m]
        if values:
            hidden = values[-1] not in ("false", "no", "off", "0")
    return hidden


def _output_text(output) -> str:
    parts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    parts += [v for v in output.get("data", {}).values() if isinstance(v, str)]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def executed_student_edition(executed):
    """The student edition of an *executed* teacher notebook, its outputs kept: what a student
    opens on the published pages. Cell by cell, with otter's own block parsing and solution
    replacement (``otter assign`` strips the same way, but also drops every output): the
    assignment config and the block-boundary raw cells go; a solution cell keeps otter's stub
    (``...`` in place of the solution) and loses its outputs and count; markdown solutions go;
    hidden test cells go, public ones stay with their outputs; ``# IGNORE`` lines go. Any other
    output that quotes a solution or hidden-test line (a traceback through a solution function)
    is replaced by a note. Raises ``RuntimeError`` if a marker or solution line is left."""
    import copy

    from otter.assign.blocks import (
        BlockType,
        extract_all_fenced_otter_cells,
        is_assignment_config_cell,
        is_block_boundary_cell,
    )
    from otter.assign.solutions import (
        ANSWER_CELL_TAG,
        OTTER_INCLUDE_TAG,
        remove_ignored_lines,
        replace_solutions,
    )
    from otter.assign.utils import is_ignore_cell

    nb = copy.deepcopy(executed)
    cells, blocks, secrets = [], [], set()
    for cell in extract_all_fenced_otter_cells(nb.cells):
        if is_ignore_cell(cell) or is_assignment_config_cell(cell):
            continue
        if blocks and is_block_boundary_cell(cell, blocks[-1], end=True):
            blocks.pop()
            continue
        begun = next((b for b in BlockType if is_block_boundary_cell(cell, b)), None)
        if begun is not None:
            blocks.append(begun)
            continue
        lines = cell.source.splitlines()
        block = blocks[-1] if blocks else None
        if block is BlockType.TESTS:
            if cell.cell_type != "code" or _hidden_test(lines):
                secrets.update(lines)
                continue
        elif block is BlockType.SOLUTION:
            tags = cell.metadata.get("tags", [])
            if cell.cell_type == "markdown" and OTTER_INCLUDE_TAG not in tags:
                secrets.update(lines)
                continue
            if cell.cell_type == "code":
                stub = replace_solutions(lines, "python")
                secrets.update(set(lines) - set(stub))
                cell.source, cell.outputs, cell.execution_count = "\n".join(stub), [], None
            cell.metadata["tags"] = [t for t in tags if t != OTTER_INCLUDE_TAG]
            cell.metadata["tags"].append(ANSWER_CELL_TAG)
        if cell.cell_type == "code":
            cell.source = "\n".join(remove_ignored_lines(cell.source.splitlines()))
        cells.append(cell)
    if blocks:
        raise RuntimeError(f"an otter {blocks[-1].value} block is never ended")
    # a line distinctive enough to be the solution's (not ``return x``) that no kept cell shows
    shown = {ln.strip() for c in cells for ln in c.source.splitlines()}
    secrets = {s.strip() for s in secrets if len(s.strip()) > 12} - shown
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=WITHHELD)
                if any(s in _output_text(o) for s in secrets)
                else o
                for o in cell.outputs
            ]
    nb.cells = cells
    visible = "\n".join(
        [c.source for c in cells] + [_output_text(o) for c in cells for o in c.get("outputs", [])]
    )
    leaks = solution_leaks(nb) + sorted(s for s in secrets if s in visible)
    if leaks:
        raise RuntimeError(f"the student edition still shows solution text: {leaks[:3]}")
    return nb


def set_parameters(path: Path, **values: str) -> None:
    """Rewrite ``NAME = ...`` lines of the notebook's parameters cell, e.g. ``PROFILE="smoke"``
    (grading runs fast on smoke; a teacher may grade on full) or a private ``RESULTS_PATH``."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name} needs exactly one cell tagged 'parameters'")
    for name, value in values.items():
        pattern = rf"^{name} = .*$"
        cells[0].source, n = re.subn(pattern, f"{name} = {value!r}", cells[0].source, flags=re.M)
        if n != 1:
            raise ValueError(f"{path.name}: no {name} line in the parameters cell")
    nbformat.write(nb, path)


def grade(
    name: str, submission: Path, profile: str = "smoke", build_dir: Path = REPO_ROOT / "build"
) -> dict:
    """Execute a filled-in student notebook and grade it with ``otter run`` against the
    autograder bundle (public and hidden tests). Returns {question: (score, max)} plus
    ``"total"``."""
    path = find_notebook(name)
    bundle = build_dir / "autograder" / path.stem / "autograder.zip"
    if not bundle.exists():
        raise FileNotFoundError(
            f"{bundle} missing: run `make student` first (it builds the autograder bundles)"
        )
    submission = Path(submission)
    read_submission(submission, path)
    with tempfile.TemporaryDirectory(prefix="grading-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copy(submission, copy)  # as submitted; checked above
        # results go to a private file: grading never touches the collection's build/results.json
        set_parameters(copy, PROFILE=profile, RESULTS_PATH=str(Path(tmp) / "results.json"))
        out = Path(tmp) / "out"
        out.mkdir()
        proc = subprocess.run(
            [otter_bin(), "run", "-a", str(bundle), "-o", str(out), str(copy)],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        if proc.returncode != 0 or not (out / "results.json").exists():
            raise RuntimeError(f"otter run failed on {submission}:\n{proc.stderr[-2000:]}")
        tests = json.loads((out / "results.json").read_text())["tests"]
    scores = {
        t["name"]: (float(t.get("score") or 0.0), float(t["max_score"]))
        for t in tests
        if t.get("max_score") is not None
    }
    scores["total"] = (sum(s for s, _ in scores.values()), sum(m for _, m in scores.values()))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m llm4rec_utils.tooling.coursework")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="build student editions and autograder bundles")
    st.add_argument("notebooks", nargs="*", help="e.g. 07 (default: every coursework notebook)")
    st.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build")
    gr = sub.add_parser("grade", help="execute and grade a filled-in student notebook")
    gr.add_argument("notebook", help="which notebook it is, e.g. 07")
    gr.add_argument("submission", type=Path)
    gr.add_argument("--profile", default="smoke", choices=["smoke", "full", "gpu"])
    gr.add_argument("--build-dir", type=Path, default=REPO_ROOT / "build")
    args = parser.parse_args(argv)
    if args.command == "student":
        for b in build_student(args.build_dir, args.notebooks or None):
            print(f"{b['student'].relative_to(args.build_dir)}  |  autograder: {b['zip'].parent}")
        return 0
    try:
        scores = grade(args.notebook, args.submission, args.profile, args.build_dir)
    except (BadInput, FileNotFoundError) as err:  # bad input: one line, exit status 2
        parser.refuse(err)
    for q, (s, m) in scores.items():
        print(f"{q:>10}: {s:g} / {m:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
