"""Cells that re-run (issue 27 §3): a re-run training cell replaces its rows, never adds to them.

A teacher changes one parameter and re-runs one section. The results tables of the notebooks
are keyed by (model, protocol), so a re-run replaces its rows; a table that appended would list
the re-run models twice (and every table, chart and record built from it after that cell).

The test executes a copy of notebook 05 in which one training cell runs twice: a copy of the
first code cell that trains a model and adds its rows to the results table (section 4,
pre-train then fine-tune, the cell Exercise 4.1 asks to re-run) is inserted right after it.
Compared with a normal run, from that cell to the end: every cell prints as many lines (the
second run of the cell prints the same table as the first; section 7's table and the Summary
keep their rows), ``results.json`` holds the same (model, protocol, metric) records and the
same claim ids. Values may differ (timings); the shapes may not.

05 rather than 08, the other notebook with such a table: its smoke run is cheaper (about 50 s
against 85 s, one thread each, in ``make test``) and reads no other notebook's output (08 reads
04's model and the results of 03, 05 and 06).
The normal run is the session's: under ``make test``, tests/test_notebooks.py has executed 05
in its smoke build folder already, and only the copy runs here. Run alone, this test runs 05
once more itself. The copy starts in a background thread when the session starts
(tests/conftest.py, only when this test is selected), so it runs beside the unit tests, which
leave a core free, instead of adding its minute after the notebooks' smoke runs.
"""

import copy
import threading
from pathlib import Path

import nbformat
import pytest

from llm4rec_utils.tooling.cli import BadInput
from llm4rec_utils.tooling.results import read_results
from llm4rec_utils.tooling.runner import NOTEBOOK_DIR, run_notebooks

NOTEBOOK = NOTEBOOK_DIR / "05_generative_recommendation.ipynb"
STEM = NOTEBOOK.stem
RERUN_TAG = "rerun"  # the inserted copy of the re-run cell
KEY = ("model", "protocol", "metric", "shots", "round")  # a record's key in results.json


def is_rerun_cell(cell) -> bool:
    """A code cell that trains a model and adds its rows to 05's results table."""
    source = cell.source if cell.cell_type == "code" else ""
    return "train_gpt_rec(" in source and "add_rows(" in source


def rerun_copy(src: Path, dest_dir: Path) -> Path:
    """A copy of ``src`` in ``dest_dir`` whose first re-run cell (:func:`is_rerun_cell`) is
    followed by a copy of itself, tagged :data:`RERUN_TAG`: the cell runs twice in a row."""
    nb = nbformat.read(src, as_version=4)
    index = next((i for i, c in enumerate(nb.cells) if is_rerun_cell(c)), None)
    assert index is not None, f"{src.name}: no code cell trains a model and calls add_rows(...)"
    twin = copy.deepcopy(nb.cells[index])
    twin["id"] = f"{nb.cells[index].get('id', 'cell')}-{RERUN_TAG}"
    twin.metadata["tags"] = [*twin.metadata.get("tags", []), RERUN_TAG]
    nb.cells.insert(index + 1, twin)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    nbformat.write(nb, dest)
    return dest


_BACKGROUND: dict = {}  # the copy's run, started by start_copy_run


def start_copy_run(work_dir: Path) -> None:
    """Run the copy (:func:`rerun_copy`) in a background thread, into ``work_dir/build``."""
    twice = rerun_copy(NOTEBOOK, work_dir / "notebooks")

    def work():
        try:
            _BACKGROUND["out"] = run_notebooks(
                [twice], profile="smoke", build_dir=work_dir / "build", html=False
            )
        except BaseException as err:  # noqa: BLE001 -- re-raised in the test
            _BACKGROUND["error"] = err

    _BACKGROUND.update(dir=work_dir, thread=threading.Thread(target=work, daemon=True))
    _BACKGROUND["thread"].start()


def copy_run(tmp_path: Path):
    """``(results, run, build folder)`` of the copy: the background one, else run now."""
    if "thread" in _BACKGROUND:
        _BACKGROUND["thread"].join()
        if "error" in _BACKGROUND:
            raise _BACKGROUND["error"]
        results, (run,) = _BACKGROUND["out"]
        return results, run, _BACKGROUND["dir"] / "build"
    twice = rerun_copy(NOTEBOOK, tmp_path / "notebooks")
    build = tmp_path / "build"
    results, (run,) = run_notebooks([twice], profile="smoke", build_dir=build, html=False)
    return results, run, build


def printed_lines(cell) -> int:
    """Lines a code cell printed (stdout) or showed as text (a table, a figure's caption);
    stderr (warnings, progress bars) is left out."""
    lines = 0
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.get("name") == "stdout":
            lines += len(out.text.splitlines())
        elif out.output_type in ("execute_result", "display_data"):
            lines += len(out.get("data", {}).get("text/plain", "").splitlines())
    return lines


def head(cell) -> str:
    return (cell.source.splitlines() or [""])[0][:60]


def code_cells(path: Path) -> list:
    """An executed notebook's code cells, without papermill's injected parameters (whose
    ``RESULTS_PATH`` names the run's own build folder)."""
    cells = nbformat.read(path, as_version=4).cells
    return [c for c in cells if c.cell_type == "code"
            and "injected-parameters" not in c.metadata.get("tags", [])]


def records(results: dict) -> list[tuple]:
    """05's records by key, with repeats (a key recorded twice would show twice)."""
    rows = [m for m in results["metrics"] if m["notebook"] == STEM]
    return sorted(tuple(str(m.get(k, "")) for k in KEY) for m in rows)


def claim_ids(results: dict) -> list[str]:
    return sorted(c["id"] for c in results.get("claims", []) if c["notebook"] == STEM[:2])


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory):
    """``(results, executed notebook)`` of a normal smoke run of 05: the session's, where
    tests/test_notebooks.py's ``smoke_build`` folder (``smoke-build*`` under the session's
    temporary folder) holds an ok run of it, else a run made here."""
    for build in sorted(tmp_path_factory.getbasetemp().glob("smoke-build*")):
        executed = build / NOTEBOOK.name
        try:
            results = read_results(build / "results.json")
        except BadInput:
            continue
        done = results["notebooks"].get(STEM, {})
        if executed.exists() and done.get("status") == "ok" and done.get("profile") == "smoke":
            return results, executed
    build = tmp_path_factory.mktemp("normal-05")
    results, (run,) = run_notebooks([NOTEBOOK], profile="smoke", build_dir=build, html=False)
    assert run.status == "ok", run.error
    return results, build / NOTEBOOK.name


@pytest.mark.notebook
def test_rerun_training_cell_replaces_its_rows(normal_run, tmp_path):
    normal_results, normal_nb = normal_run
    results, run, build = copy_run(tmp_path)
    assert run.status == "ok", f"{STEM} with its training cell run twice: {run.error}"

    ran = code_cells(build / NOTEBOOK.name)
    at = next(i for i, c in enumerate(ran) if RERUN_TAG in c.metadata.get("tags", []))
    cells = ran[:at] + ran[at + 1 :]  # the copy's cells without the second run: the normal ones
    normal = code_cells(normal_nb)
    assert len(cells) == len(normal), "the normal run executed another version of the notebook"
    assert printed_lines(ran[at]) == printed_lines(normal[at - 1]), (
        f"the second run of the cell starting {head(ran[at])!r} printed another number of "
        "lines than its run in a normal run: its table grew (rows appended, not replaced)"
    )
    summary = [i for i, c in enumerate(normal) if "summary" in c.metadata.get("tags", [])]
    assert len(summary) == 1, "one cell tagged 'summary'"
    assert printed_lines(cells[summary[0]]) == printed_lines(normal[summary[0]]), (
        "after a re-run, the Summary prints another number of lines than in a normal run"
    )
    changed = [
        f"cell {i} ({head(cells[i])!r}): {printed_lines(normal[i])} lines "
        f"in a normal run, {printed_lines(cells[i])} after the re-run"
        for i in range(at - 1, len(normal))
        if printed_lines(cells[i]) != printed_lines(normal[i])
    ]
    assert not changed, "after a re-run, cells print tables of another shape:\n" + "\n".join(
        changed
    )
    assert records(results) == records(normal_results), "results.json holds other records"
    assert claim_ids(results) == claim_ids(normal_results), "results.json judged other claims"
