"""The runner on two throw-away notebooks: one that records a metric, one that fails."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from llm4rec_utils import runner


def write_nb(path, *sources):
    cells = [new_code_cell(s) for s in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(new_notebook(cells=cells), path)
    return path


def test_select_notebooks_by_number_and_name():
    all_nbs = runner.list_notebooks()
    assert all_nbs and all_nbs == sorted(all_nbs)
    first = all_nbs[0]
    assert runner.select_notebooks([first.stem[:2]]) == [first]
    assert runner.select_notebooks([first.stem]) == [first]
    with pytest.raises(ValueError, match="no notebook '99'"):
        runner.select_notebooks(["99"])


@pytest.mark.notebook
def test_failure_names_notebook_and_cell_and_keeps_other_results(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    params = 'PROFILE = "full"\nRESULTS_PATH = ""\nSEED = 0\nDEVICE = "auto"\nDATA_DIR = ""'
    good = write_nb(
        src / "01_good.ipynb",
        params,
        "from llm4rec_utils.results import record_metric\n"
        "assert PROFILE == 'smoke'\n"
        "record_metric(RESULTS_PATH, '01_good', 'm', 'p', 'x', 0.5)",
    )
    bad = write_nb(src / "02_bad.ipynb", params, "x = 1", "raise ValueError('boom')")
    build = tmp_path / "build"
    results, runs = runner.run_notebooks([good, bad], profile="smoke", build_dir=build, html=False)
    assert [r.status for r in runs] == ["ok", "failed"]
    assert "02_bad" in runs[1].error and "cell 2" in runs[1].error and "boom" in runs[1].error
    stored = json.loads((build / "results.json").read_text())
    assert stored["metrics"] == [
        {"notebook": "01_good", "model": "m", "protocol": "p", "metric": "x", "value": 0.5}
    ]
    assert stored["notebooks"]["02_bad"]["status"] == "failed"
    assert stored["notebooks"]["01_good"]["peak_rss_mb"] > 20
    assert stored["provenance"]["profile"] == "smoke"
    assert (build / "RESULTS.md").exists() and (build / "01_good.ipynb").exists()


def test_unknown_profile_and_kernel_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown PROFILE"):
        runner.run_notebooks([], profile="fast", build_dir=tmp_path)
    with pytest.raises(RuntimeError, match="kernel 'nope' is not installed"):
        runner.run_notebooks([], profile="smoke", build_dir=tmp_path, kernel="nope")
