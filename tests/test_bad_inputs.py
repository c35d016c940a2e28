"""Every command line's bad input, in one table: each row must end in ONE line on stderr that
names the problem (the regex), exit status 2, no traceback, and nothing half-written. A new
entry point gets its rows here."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from llm4rec_utils.tooling import coursework, results, runner
from llm4rec_utils.tooling.runner import REPO_ROOT

NB05 = REPO_ROOT / "notebooks" / "05_generative_recommendation.ipynb"
ENTRY = {"runner": runner.main, "grade": coursework.main, "results": results._main}


def _run_json(path: Path, notebook: str, metric: str = "auc") -> Path:
    row = dict(notebook=notebook, model="m", protocol="p", metric=metric, value=0.5)
    path.write_text(json.dumps({"provenance": {}, "notebooks": {}, "metrics": [row]}))
    return path


def _bundle(tmp: Path, stem: str = "07_evaluation") -> Path:
    """A build folder that has (a stand-in for) the autograder bundle of ``stem``."""
    (tmp / "build" / "autograder" / stem).mkdir(parents=True)
    (tmp / "build" / "autograder" / stem / "autograder.zip").write_bytes(b"")
    return tmp / "build"


def _file(tmp: Path, name: str, text: str) -> Path:
    (tmp / name).write_text(text)
    return tmp / name


def _runner(*args: str):
    return lambda tmp: ["--profile", "smoke", *args]


# (id, entry point, argv built in a fresh tmp folder, the one line it must print)
CASES = [
    # -- the runner
    ("runner-build-dir-in-proc", "runner", _runner("--build-dir", "/proc/llm4rec-x/build", "01"),
     r"cannot create the build folder /proc/llm4rec-x/build .*--build-dir"),
    ("runner-build-dir-in-sys", "runner", _runner("--build-dir", "/sys/llm4rec-x", "01"),
     r"cannot create the build folder /sys/llm4rec-x .*--build-dir"),
    ("runner-build-dir-is-a-file", "runner",
     lambda tmp: _runner("--build-dir", str(_file(tmp, "f", "x")), "01")(tmp),
     r"build folder .*/f is a file, not a folder: choose another --build-dir"),
    ("runner-build-dir-below-a-file", "runner",
     lambda tmp: _runner("--build-dir", str(_file(tmp, "f", "x") / "build"), "01")(tmp),
     r"build folder .*/f/build lies below a file .*: choose another --build-dir"),
    ("runner-malformed-results-json", "runner",
     lambda tmp: _runner("--build-dir", str(_file(tmp, "results.json", '{"metrics": [').parent),
                         "01")(tmp),
     r"results\.json is not valid JSON .*: fix it, or delete it"),
    ("runner-results-json-a-list", "runner",
     lambda tmp: _runner("--build-dir", str(_file(tmp, "results.json", "[]").parent), "01")(tmp),
     r"results\.json holds a JSON list, not a results\.json object"),
    ("runner-unknown-param", "runner",
     lambda tmp: _runner("--build-dir", str(tmp / "b"), "--param", "DECODR_MODEL=x", "09")(tmp),
     r"unknown parameter DECODR_MODEL: no selected notebook declares it .*\(declared: .*"
     r"DECODER_MODEL"),
    ("runner-notebook-name-with-shell", "runner",
     lambda tmp: _runner("--build-dir", str(tmp / "b"), "01; echo INJECTED")(tmp),
     r"notebook names are numbers or names .*got '01; echo INJECTED'"),
    ("runner-no-such-notebook", "runner",
     lambda tmp: _runner("--build-dir", str(tmp / "b"), "99")(tmp),
     r"no notebook '99'; available: 01_"),
    ("runner-bad-param-syntax", "runner",
     lambda tmp: _runner("--build-dir", str(tmp / "b"), "--param", "decoder", "09")(tmp),
     r"--param takes NAME=VALUE"),
    # -- make grade / coursework grade
    ("grade-missing-file", "grade",
     lambda tmp: ["grade", "07", str(tmp / "nope.ipynb"), "--build-dir", str(_bundle(tmp))],
     r"no submission at .*nope\.ipynb"),
    ("grade-text-file", "grade",
     lambda tmp: ["grade", "07", str(_file(tmp, "a.ipynb", "my answers")), "--build-dir",
                  str(_bundle(tmp))],
     r"a\.ipynb is not a notebook \(not JSON\): submit the \.ipynb file of 07_evaluation"),
    ("grade-empty-file", "grade",
     lambda tmp: ["grade", "07", str(_file(tmp, "a.ipynb", "")), "--build-dir",
                  str(_bundle(tmp))],
     r"a\.ipynb is empty: submit the \.ipynb file"),
    ("grade-malformed-json", "grade",
     lambda tmp: ["grade", "07", str(_file(tmp, "a.ipynb", '{"cells": [')), "--build-dir",
                  str(_bundle(tmp))],
     r"a\.ipynb is damaged notebook JSON at line \d+, column \d+"),
    ("grade-json-not-a-notebook", "grade",
     lambda tmp: ["grade", "07", str(_file(tmp, "a.ipynb", '{"cells": 3}')), "--build-dir",
                  str(_bundle(tmp))],
     r"a\.ipynb is JSON but not a valid notebook"),
    ("grade-a-folder", "grade",
     lambda tmp: ["grade", "07", str(tmp), "--build-dir", str(_bundle(tmp))],
     r"is a folder, not a notebook"),
    ("grade-no-such-notebook", "grade",
     lambda tmp: ["grade", "99", str(NB05), "--build-dir", str(_bundle(tmp))],
     r"'99' names no single coursework notebook; choose one of"),
    ("grade-wrong-notebook", "grade",
     lambda tmp: ["grade", "07", str(NB05), "--build-dir", str(_bundle(tmp))],
     r"is not a copy of 07_evaluation \(it looks like 05_generative_recommendation\).*"
     r"NOTEBOOK=05"),
    ("grade-before-make-student", "grade",
     lambda tmp: ["grade", "07", str(NB05), "--build-dir", str(tmp / "build")],
     r"autograder\.zip missing: run `make student` first"),
    # -- comparing two runs
    ("results-missing-file", "results",
     lambda tmp: [str(tmp / "nope.json"), str(_run_json(tmp / "b.json", "01"))],
     r"nope\.json: no such file"),
    ("results-malformed-json", "results",
     lambda tmp: [str(_file(tmp, "a.json", '{"metrics": [')), str(_run_json(tmp / "b.json", "01"))],
     r"a\.json is not valid JSON \(.* line 1, column \d+\): fix it, or delete it"),
    ("results-empty-file", "results",
     lambda tmp: [str(_file(tmp, "a.json", "")), str(_run_json(tmp / "b.json", "01"))],
     r"a\.json is empty, not a results\.json"),
    ("results-a-list", "results",
     lambda tmp: [str(_file(tmp, "a.json", "[1, 2]")), str(_run_json(tmp / "b.json", "01"))],
     r"a\.json holds a JSON list, not a results\.json object"),
    ("results-rows-without-keys", "results",
     lambda tmp: [str(_file(tmp, "a.json", '{"metrics": [{"model": "m"}]}')),
                  str(_run_json(tmp / "b.json", "01"))],
     r"a\.json: metrics row 0 lacks notebook, protocol, metric, value"),
    ("results-a-directory", "results",
     lambda tmp: [str(tmp), str(_run_json(tmp / "b.json", "01"))],
     r"is a folder, not a results\.json"),
    ("results-no-metric-in-common", "results",
     lambda tmp: [str(_run_json(tmp / "a.json", "01")), str(_run_json(tmp / "b.json", "02"))],
     r"have no metric in common"),
]


def _snapshot(tmp: Path) -> dict:
    return {str(p): p.read_bytes() if p.is_file() else None for p in sorted(tmp.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_exit_2(case, tmp_path, capsys):
    name, entry, argv, pattern = case
    if "/proc/" in pattern + name or "-in-sys" in name:
        if not Path("/proc" if "proc" in name else "/sys").is_dir():
            pytest.skip("a Linux-only folder")
    args = argv(tmp_path)
    before = _snapshot(tmp_path)
    try:
        code = ENTRY[entry](args)
    except SystemExit as err:
        code = err.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]
    assert _snapshot(tmp_path) == before, "bad input must leave nothing written"


def test_make_grade_passes_a_path_with_a_space_as_one_argument(tmp_path):
    """The Makefile's grade target quotes $(SUBMISSION): a path with a space reaches the
    grader whole (and the grader says what is wrong with the file in one line)."""
    sub = tmp_path / "my work" / "copy.ipynb"
    sub.parent.mkdir()
    sub.write_text("not a notebook")
    build = _bundle(tmp_path)
    dry = subprocess.run(
        ["make", "-n", "grade", "NOTEBOOK=07", f"SUBMISSION={sub}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    line = next(ln for ln in dry.stdout.splitlines() if "coursework grade" in ln)
    argv = shlex.split(line)
    assert str(sub) in argv, argv  # one argument, not two
    argv[0] = sys.executable  # the venv's interpreter
    proc = subprocess.run(
        [*argv, "--build-dir", str(build)], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"{sub} is not a notebook (not JSON)" in lines[0]


def test_runner_command_line_refuses_shell_in_a_name_as_a_process(tmp_path):
    """As a process, as make and the workflows call it: one line, exit 2, nothing run."""
    proc = subprocess.run(
        [sys.executable, "-m", "llm4rec_utils.tooling.runner", "--profile", "smoke",
         "--build-dir", str(tmp_path / "b"), "01; echo INJECTED"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "INJECTED" not in proc.stdout and not (tmp_path / "b").exists()


SHELL_VALUES = [("NOTEBOOKS", "01; echo INJECTED"), ("NOTEBOOKS", "01 `id`"),
                ("PARAMS", "A=1|touch x"), ("SEED", "1&&id")]


@pytest.mark.parametrize("var, value", SHELL_VALUES)
def test_make_refuses_a_shell_metacharacter_before_any_recipe(var, value):
    """make expands variables into the recipe text: a ';' in NOTEBOOKS would run before the
    runner could refuse it, so the Makefile refuses it first, in one line."""
    proc = subprocess.run(["make", "-n", "run", f"{var}={value}"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "holds a shell metacharacter" in proc.stderr, proc.stderr
    assert "INJECTED" not in proc.stdout and "runner" not in proc.stdout
    ok = subprocess.run(["make", "-n", "run", "NOTEBOOKS=01 03"], cwd=REPO_ROOT,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "runner" in ok.stdout and "01 03" in ok.stdout
