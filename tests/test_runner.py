"""The runner on two throw-away notebooks: one that records a metric, one that fails."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from llm4rec_utils.tooling import runner


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
        "from llm4rec_utils.tooling.results import record_metric\n"
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
        {"notebook": "01_good", "model": "m", "protocol": "p", "metric": "x", "value": 0.5,
         "profile": "smoke", "seed": 42}  # the settings the notebook ran with
    ]
    assert stored["notebooks"]["01_good"]["seed"] == 42
    assert stored["notebooks"]["02_bad"]["status"] == "failed"
    assert stored["notebooks"]["01_good"]["peak_rss_mb"] > 20
    assert stored["provenance"]["profile"] == "smoke"
    assert (build / "RESULTS.md").exists() and (build / "01_good.ipynb").exists()
    index = (build / "index.html").read_text()
    assert "01_good" in index and "02_bad" in index and "failed" in index
    assert "The ten slowest cells" in index and "record_metric" in index  # a cell's first line
    assert (build / "wall_time.png").exists()


def test_unknown_profile_and_kernel_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown PROFILE"):
        runner.run_notebooks([], profile="fast", build_dir=tmp_path)
    with pytest.raises(RuntimeError, match="kernel 'nope' is not installed"):
        runner.run_notebooks([], profile="smoke", build_dir=tmp_path, kernel="nope")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "-1"], "seed must be an integer from 0 to 4294967295"),
        (["--seed", str(2**32)], "seed must be an integer from 0 to 4294967295"),
        (["--seed", "1.5"], "seed must be an integer"),
        (["--device", "tpu"], "unknown DEVICE 'tpu'"),
        (["--kernel", "nope"], "kernel 'nope' is not installed"),
    ],
)
def test_cli_refuses_bad_settings_in_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    build = tmp_path / "build"
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--profile", "smoke", "--build-dir", str(build), *args, "01"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not build.exists()


def test_cli_refuses_cuda_without_a_gpu(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    build = tmp_path / "build"
    with pytest.raises(SystemExit):
        runner.main(["--profile", "smoke", "--device", "cuda", "--build-dir", str(build), "01"])
    assert "sees no CUDA GPU" in capsys.readouterr().err and not build.exists()


@pytest.mark.notebook
def test_failing_cell_index_is_the_source_notebooks(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    params = 'PROFILE = "full"\nRESULTS_PATH = ""\nSEED = 0\nDEVICE = "auto"\nDATA_DIR = ""'
    # source cells: 0 parameters, 1 fails (right after the injected parameters), 2 never runs
    first = write_nb(src / "01_first.ipynb", params, "raise KeyError('right after')", "x = 1")
    # source cells: 0 parameters, 1, 2, 3 fails
    later = write_nb(src / "02_later.ipynb", params, "a = 1", "b = 2", "raise KeyError('later')")
    _, runs = runner.run_notebooks(
        [first, later], profile="smoke", build_dir=tmp_path / "build", html=False
    )
    assert "cell 1 " in runs[0].error, runs[0].error
    assert "cell 3 " in runs[1].error, runs[1].error


@pytest.mark.notebook
def test_parallel_jobs_keep_every_row_and_respect_dependencies(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    params = 'PROFILE = "full"\nRESULTS_PATH = ""\nSEED = 0\nDEVICE = "auto"\nDATA_DIR = ""'
    writer = (
        "import os\n"
        "from llm4rec_utils.tooling.results import record_metric\n"
        "assert os.environ['OMP_NUM_THREADS'] == str(max(1, (os.cpu_count() or 1) // 2))\n"
        "for i in range(40):\n"
        "    record_metric(RESULTS_PATH, NAME, 'm', 'p', f'x{i}', i)"
    )
    a = write_nb(src / "01_a.ipynb", params, "NAME = '01_a'\n" + writer)
    b = write_nb(src / "02_b.ipynb", params, "NAME = '02_b'\n" + writer)
    # 03_c reads what 01_a recorded: it must start after 01_a has finished
    c = write_nb(
        src / "03_c.ipynb",
        params,
        "from llm4rec_utils.tooling.results import read_results, record_metric\n"
        "rows = [m for m in read_results(RESULTS_PATH)['metrics'] if m['notebook'] == '01_a']\n"
        "record_metric(RESULTS_PATH, '03_c', 'm', 'p', 'rows_seen', len(rows))",
    )
    results, runs = runner.run_notebooks(
        [a, b, c],
        profile="smoke",
        build_dir=tmp_path / "build",
        html=False,
        jobs=2,
        deps={"03": ["01"]},
    )
    assert [r.status for r in runs] == ["ok", "ok", "ok"], [r.error for r in runs]
    rows = results["metrics"]
    assert sum(m["notebook"] == "01_a" for m in rows) == 40  # no row lost to a race
    assert sum(m["notebook"] == "02_b" for m in rows) == 40
    seen = [m["value"] for m in rows if m["notebook"] == "03_c"]
    assert seen == [40.0]
    assert set(results["notebooks"]) == {"01_a", "02_b", "03_c"}
    with pytest.raises(ValueError, match="jobs"):
        runner.run_notebooks([a], profile="smoke", build_dir=tmp_path / "b2", jobs=0)


def test_declared_dependencies_name_existing_notebooks():
    numbers = {p.stem.split("_")[0] for p in runner.list_notebooks()}
    for nb, deps in runner.NOTEBOOK_DEPS.items():
        assert nb in numbers and set(deps) <= numbers


def test_extra_params_parse_and_refuse_the_runner_own():
    from llm4rec_utils.tooling.runner import parse_params

    assert parse_params(["DECODER_MODEL=a/b", "LLM_ENDPOINT=http://x:1/v1?k=v"]) == {
        "DECODER_MODEL": "a/b",
        "LLM_ENDPOINT": "http://x:1/v1?k=v",
    }
    with pytest.raises(ValueError, match="--seed"):
        parse_params(["SEED=1"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_params(["decoder"])


def test_index_shows_tagged_figures_only(tmp_path):
    import base64

    from nbformat.v4 import new_output

    from llm4rec_utils.tooling import report

    png = base64.b64encode(b"\x89PNG fake bytes").decode()
    cells = [new_code_cell("plot()"), new_code_cell("plot()"), new_code_cell("plot()")]
    cells[0].metadata["tags"] = ["injected-parameters"]  # papermill's: not a source cell
    for c in cells[1:]:
        c.outputs = [new_output("display_data", data={"image/png": png})]
    cells[2].metadata["tags"] = [report.FIGURE_TAG]
    nbformat.write(new_notebook(cells=cells), tmp_path / "08_x.ipynb")
    results = {"notebooks": {"08_x": {"status": "ok", "wall_s": 1.0, "peak_rss_mb": 50}}}
    index = report.write_index(tmp_path, results).read_text()
    written = sorted(p.name for p in tmp_path.glob("figure_*.png"))
    assert written == ["figure_08_x_1.png"]  # the tagged cell, counted without papermill's
    assert (tmp_path / written[0]).read_bytes() == b"\x89PNG fake bytes"
    assert "src='figure_08_x_1.png'" in index and "08_x, cell 1" in index


def test_a_second_runner_on_the_same_build_folder_is_refused_naming_the_first(tmp_path, capsys):
    import subprocess
    import sys

    build = tmp_path / "build"
    build.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from llm4rec_utils.tooling.runner import build_lock\n"
         "with build_lock(Path(sys.argv[1])):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(120)\n",
         str(build)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        (build / "results.json").write_text('{"metrics": []}')
        with pytest.raises(SystemExit) as exit_info:
            runner.main(["--profile", "smoke", "--build-dir", str(build), "01"])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"another runner (PID {holder.pid}) is running in {build}" in err
        assert (build / "results.json").read_text() == '{"metrics": []}'  # untouched
    finally:
        holder.kill()
        holder.wait()
    with runner.build_lock(build):  # released with its holder
        assert (build / runner.RUNNER_PID).read_text() == str(__import__("os").getpid())
    assert not (build / runner.RUNNER_PID).exists()


def test_a_run_with_other_settings_starts_a_fresh_results_file(tmp_path):
    path = tmp_path / "results.json"
    row = dict(notebook="02_b", model="m", protocol="p", metric="x", value=1.0)
    prov = {"profile": "smoke", "seed": 42, "device": "auto -> cpu"}
    runner.write_results(path, {"provenance": prov, "notebooks": {}, "metrics": [row],
                                "claims": []})
    kept = runner.start_results(path, ["01_a"], {**prov, "device": "cpu -> cpu"})
    assert kept["metrics"] == [row] and kept["claims"] == []  # same run settings: rows kept
    fresh = runner.start_results(path, ["01_a"], {**prov, "seed": 7})
    assert fresh["metrics"] == [] and fresh["provenance"]["seed"] == 7
    assert runner.read_results(path)["provenance"]["seed"] == 7


def test_unknown_param_names_it_and_lists_the_declared(tmp_path):
    nb = write_nb(tmp_path / "01_x.ipynb", 'PROFILE = "full"\nDECODER_MODEL = ""\nK: int = 3')
    assert runner.declared_parameters(nb) == {"PROFILE", "DECODER_MODEL", "K"}
    runner.check_params([nb], {"DECODER_MODEL": "a/b"})
    with pytest.raises(ValueError, match=r"unknown parameter DECODR_MODEL: .*declared: "
                                         r"DECODER_MODEL, K\)"):
        runner.check_params([nb], {"DECODR_MODEL": "a/b"})


PORTABLE = """
import importlib, os, pkgutil, subprocess, sys
sys.modules["fcntl"] = None  # as on Windows: no fcntl, no os.wait4
del os.wait4
import llm4rec_utils
names = [m.name for m in pkgutil.walk_packages(llm4rec_utils.__path__, "llm4rec_utils.")]
for name in names:
    importlib.import_module(name)
from llm4rec_utils.tooling import results, runner
proc = subprocess.Popen([sys.executable, "-c",
                         "import time; b = bytearray(80 << 20); b[::4096] = b'x' * len(b[::4096]);"
                         " time.sleep(1)"])
code, peak_kb, error, note = runner._wait_with_rusage(proc, 60)
assert code == 0 and proc.returncode == 0 and error == "", (code, error)
assert peak_kb is not None and peak_kb > 60 * 1024, peak_kb
assert "psutil" in note and "os.wait4" in note, note
results.record_metric(sys.argv[1], "01_a", "m", "p", "x", 1.0)  # the results lock, too
print(len(names), "modules", peak_kb // 1024, "MB")
"""


def test_every_module_imports_and_memory_is_measured_without_fcntl_and_wait4(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", PORTABLE, str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "modules" in proc.stdout and (tmp_path / "r.json").exists()


def test_a_run_without_a_memory_measure_says_so(tmp_path, monkeypatch):
    """The record says what could not be measured, and the reports show a blank, not 0."""
    from llm4rec_utils.tooling import report
    from llm4rec_utils.tooling.results import results_table

    monkeypatch.delattr(runner.os, "wait4", raising=False)
    monkeypatch.setitem(__import__("sys").modules, "psutil", None)
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    code, peak_kb, _, note = runner._wait_with_rusage(proc, 30)
    assert code == 0 and peak_kb is None and "not measured" in note
    nb = {"status": "ok", "wall_s": 1.0, "peak_rss_mb": None, "memory_note": note}
    results = {"notebooks": {"01_a": nb}}
    assert "| 01_a | ok | 1.0 |  |" in results_table(results)
    assert "not measured" in report.write_index(tmp_path, results).read_text()


def test_index_escapes_a_notebooks_status_and_names(tmp_path):
    from llm4rec_utils.tooling import report

    evil = "<script>alert(1)</script>"
    results = {
        "notebooks": {"01_a": {"status": evil, "wall_s": 1.0, "peak_rss_mb": 5}},
        "metrics": [dict(notebook="01_a", model=evil, protocol="p", metric="x", value=1.0)],
    }
    page = report.write_index(tmp_path, results).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "class='<" not in page


def test_pages_site_holds_the_report_pages_and_figures_only(tmp_path):
    from llm4rec_utils.tooling import report

    build = tmp_path / "build"
    published = ["index.html", "RESULTS.md", "RESULTS.html", "results.json", "01_data.html",
                 "01_data.teacher.html", "08_compute.html", "wall_time.png",
                 "figure_08_compute_3.png"]
    private = ["01_data.ipynb", "tallrec-train.jsonl", "item_vectors.npy", "model.pt",
               "results.json.lock", ".runner.lock", ".runner.pid", "notes.txt",
               "cache/sasrec/weights.pt", "cache/minilm/vectors.npy", "cache/index.html",
               "student/07_evaluation.ipynb", "autograder/07_evaluation/autograder.zip",
               "mathjax/MathJax.js", "mathjax/ratings.csv"]  # the site's MathJax is the package's
    for name in published + private:
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_text(name)
    (build / "02_link.html").symlink_to(build / "tallrec-train.jsonl")
    assert [p.name for p in report.pages_files(build)] == sorted(published)
    site = build / "site"
    assert report.main(["pages", str(build), str(site)]) == 0
    assert sorted(p.name for p in site.iterdir()) == sorted([*published, "mathjax"])
    mathjax = sorted(p.relative_to(site / "mathjax") for p in (site / "mathjax").rglob("*")
                     if p.is_file())  # fmt: skip
    assert (site / "mathjax" / "MathJax.js").read_text() != "mathjax/MathJax.js"
    assert mathjax and all(p.suffix in (".js", ".woff") or p.name == "LICENSE" for p in mathjax)
    every = [str(p) for p in site.rglob("*")]
    assert not [g for g in every if "cache" in g or g.endswith((".jsonl", ".npy", ".pt", ".ipynb",
                                                               ".csv"))]  # fmt: skip
    assert (site / "index.html").read_text() == "index.html"
    assert report.main(["pages", str(build), str(site)]) == 0  # replaces its own site
    with pytest.raises(SystemExit):  # but never empties a folder it did not write
        report.main(["pages", str(build), str(build / "cache")])
    assert (build / "cache" / "sasrec" / "weights.pt").exists()


def test_pages_site_refuses_a_student_page_that_shows_solutions(tmp_path):
    """A teacher page left under the student page's name (an older run's 01_data.html, say)
    is never published: the site is refused in one line, naming the page."""
    from llm4rec_utils.tooling import report

    build = tmp_path / "build"
    build.mkdir()
    (build / "index.html").write_text("index")
    (build / "01_data.teacher.html").write_text("<span># BEGIN SOLUTION</span>")  # its place
    (build / "01_data.html").write_text("<pre>x = 1\n<span class='c1'># HIDDEN</span></pre>")
    with pytest.raises(ValueError, match="01_data.html is published as a student page"):
        report.write_pages_site(build, tmp_path / "site")
    assert not (tmp_path / "site").exists()
    (build / "01_data.html").write_text("<pre>x = ...</pre>")
    assert [p.name for p in report.write_pages_site(build, tmp_path / "site")] == [
        "01_data.html", "01_data.teacher.html", "index.html"]  # fmt: skip


def test_a_rerun_drops_the_notebooks_old_verdicts_only(tmp_path):
    path = tmp_path / "results.json"
    prov = {"profile": "smoke", "seed": 42, "device": "auto -> cpu"}
    claims = [{"id": "a", "notebook": "01"}, {"id": "b", "notebook": "02"}]
    data = {"provenance": prov, "notebooks": {}, "metrics": [], "claims": claims}
    runner.write_results(path, data)
    kept = runner.start_results(path, ["01_a"], prov)
    assert kept["claims"] == [{"id": "b", "notebook": "02"}]
    assert runner.start_results(path, ["02_b"], {**prov, "seed": 7})["claims"] == []


def test_threads_follow_the_cores_other_programs_leave_free(monkeypatch):
    monkeypatch.delenv("LLM4REC_THREADS", raising=False)
    assert runner.free_threads(cores=2, load=0.1) == 2  # idle: every core, torch's default
    assert runner.free_threads(cores=2, load=1.2) == 1  # another CPU-bound job: one thread
    assert runner.free_threads(cores=2, load=5.0) == 1  # never fewer than one
    assert runner.free_threads(jobs=2, cores=8, load=0.0) == 4  # JOBS shares the cores
    assert runner.free_threads(cores=8, running=1, load=1.0) == 8  # our own notebook is not "other"
    monkeypatch.setenv("LLM4REC_THREADS", "3")
    assert runner.free_threads(cores=2, load=2.0) == 3


def test_tidy_streams_keeps_the_last_frame_of_a_redrawn_bar(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("train()")
    frames = ["\rSASRec:   0%|   | 0/3", "\rSASRec:  33%|#  | 1/3", "\rSASRec: 100%|###| 3/3"]
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f) for f in frames]
    cell.outputs += [nbformat.v4.new_output("stream", name="stderr", text="\n"),
                     nbformat.v4.new_output("stream", name="stdout", text="trained 3 epochs\n")]
    nb.cells = [cell]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    runner.tidy_streams(path)
    outs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outs] == [
        ("stderr", "SASRec: 100%|###| 3/3\n"),
        ("stdout", "trained 3 epochs\n"),
    ]
