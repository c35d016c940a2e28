"""The coursework itself: student editions hide every solution, each auto-graded check passes on
the solutions and fails on the stubs (none passes vacuously), and grading works end to end."""

import doctest
import re
import shutil

import nbformat
import pytest

from llm4rec_utils.tooling import coursework as cw

NOTEBOOKS = cw.coursework_notebooks()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("coursework")
    return {b["student"].stem: b for b in cw.build_student(out)}


def test_there_is_coursework():
    assert NOTEBOOKS, "no notebook carries otter's ASSIGNMENT CONFIG cell"
    for path in NOTEBOOKS:
        graded = [q for q in cw.questions(path) if q["tests"]]
        assert graded, path.stem
        for q in graded:
            assert q["tests"] >= 2 and int(q["points"]) > 0, (path.stem, q["name"])


def _setup_namespace(path):
    """What an exercise may use: the notebook's parameters and its imports cell."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    ns = {}
    for cell in code[first : first + 2]:
        exec(compile(cell.source, f"{path.stem}-setup", "exec"), ns)
    return ns


def _answer_cells(nb_path):
    """Question name -> the source of its answer cell (the code cell after BEGIN SOLUTION)."""
    nb = nbformat.read(nb_path, as_version=4)
    out, current, take = {}, None, False
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN QUESTION"):
            current = re.search(r"name:\s*(\S+)", src).group(1)
        elif cell.cell_type == "raw" and src.startswith("# BEGIN SOLUTION"):
            take = True
        elif take and cell.cell_type == "code":
            out[current], take = cell.source, False
    return out


def _student_answers(student_path):
    nb = nbformat.read(student_path, as_version=4)
    answers = [c.source for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    return answers


def _cases(autograder_nb):
    """otter's serialised tests (public and hidden) per question, from the autograder copy."""
    meta = nbformat.read(autograder_nb, as_version=4).metadata["otter"]["tests"]
    return {q: [c for s in t["suites"] for c in s["cases"]] for q, t in meta.items()}


def _passes(code, ns, name):
    test = doctest.DocTestParser().get_doctest(code, dict(ns), name, name, 0)
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.ELLIPSIS)
    return runner.run(test, out=lambda _: None).failed == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_pass_and_stubs_fail_every_check(path, built):
    b = built[path.stem]
    cases = _cases(b["autograder"])
    solutions = _answer_cells(path)
    stubs = dict(zip(solutions, _student_answers(b["student"]), strict=True))
    assert set(cases) == set(solutions)
    hidden = 0
    for q, answer in solutions.items():
        assert any(c["hidden"] for c in cases[q]) and any(not c["hidden"] for c in cases[q]), q
        hidden += sum(c["hidden"] for c in cases[q])
        with_solution, with_stub = _setup_namespace(path), _setup_namespace(path)
        exec(answer, with_solution)
        exec(stubs[q], with_stub)
        assert "..." in stubs[q] and "# BEGIN SOLUTION" not in stubs[q], q
        for i, case in enumerate(cases[q]):
            assert _passes(case["code"], with_solution, f"{q}-{i}"), (
                f"{q} case {i} fails the solution"
            )
            assert not _passes(case["code"], with_stub, f"{q}-{i}"), f"{q} case {i} passes the stub"
    assert hidden >= len(solutions)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_edition_shows_no_solution(path, built):
    student = built[path.stem]["student"]
    assert cw.solution_leaks(student) == []
    text = student.read_text()
    for answer in _answer_cells(path).values():
        body = answer.split("# BEGIN SOLUTION", 1)[1].split("# END SOLUTION", 1)[0]
        for line in body.strip().splitlines():
            if len(line.strip()) > 12:  # a distinctive solution line
                assert line.strip() not in text, line
    nb = nbformat.read(student, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    public = nb.metadata.get("otter", {}).get("tests", {})
    assert public and all(
        not case["hidden"] for t in public.values() for s in t["suites"] for case in s["cases"]
    )


def _doctest_source(code):
    """The Python of one of otter's doctest-formatted cases (its ``>>>`` and ``...`` lines)."""
    lines = [ln[4:] for ln in code.splitlines() if ln.startswith((">>> ", "... "))]
    return "\n".join(lines)


def _code_ast(source):
    import ast

    return ast.dump(ast.parse(source))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_student_edition_strips_as_otter_does_and_keeps_outputs(path, built):
    """The published student page (an executed teacher notebook, stripped): the same stubs as
    otter assign's student edition, its public checks and none of the hidden ones, every other
    cell's outputs kept, and no solution line anywhere, outputs included."""
    executed = nbformat.read(path, as_version=4)
    for i, cell in enumerate(executed.cells):  # as if run: each cell printed something
        if cell.cell_type == "code":
            cell.execution_count = i
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"ran {i}\n")]
    edition = cw.executed_student_edition(executed)
    b = built[path.stem]
    stubs = [c for c in edition.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    assert [c.source for c in stubs] == _student_answers(b["student"])
    assert all(not c.outputs and c.execution_count is None for c in stubs)
    public = [case for cases in _cases(b["autograder"]).values() for case in cases
              if not case["hidden"]]  # fmt: skip
    kept = [c for c in edition.cells if c.cell_type == "code" and c not in stubs]
    shown = {_code_ast(c.source) for c in kept}
    assert all(_code_ast(_doctest_source(case["code"])) in shown for case in public)
    assert all(c.outputs for c in kept)  # nothing else lost its output
    assert not [c for c in edition.cells if c.cell_type == "raw" and c.source.startswith("# ")]
    assert cw.solution_leaks(edition) == []
    text = "\n".join(c.source for c in edition.cells)
    for answer in _answer_cells(path).values():
        body = answer.split("# BEGIN SOLUTION", 1)[1].split("# END SOLUTION", 1)[0]
        for line in body.strip().splitlines():
            if len(line.strip()) > 12:
                assert line.strip() not in text, line
    hidden = [case["code"] for cases in _cases(b["autograder"]).values() for case in cases
              if case["hidden"]]  # fmt: skip
    assert hidden and not [h for h in hidden if _code_ast(_doctest_source(h)) in shown]


@pytest.mark.notebook
def test_grading_end_to_end(built, tmp_path):
    """otter runs the teacher's copy (full marks) and the untouched student copy (zero) on the
    smoke profile; the student copy executes top to bottom with its stubs."""
    path = NOTEBOOKS[0]
    b = built[path.stem]
    build_dir = b["zip"].parent.parent.parent
    solution, stub = tmp_path / "solution.ipynb", tmp_path / "stub.ipynb"
    shutil.copy(b["autograder"], solution)
    shutil.copy(b["student"], stub)
    full = cw.grade(path.stem[:2], solution, build_dir=build_dir)
    zero = cw.grade(path.stem[:2], stub, build_dir=build_dir)
    total = sum(int(q["points"]) for q in cw.questions(path) if q["tests"])
    assert full["total"] == (total, total)
    assert zero["total"] == (0.0, total)


def test_bad_requests_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="no single coursework notebook"):
        cw.find_notebook("99")
    with pytest.raises(FileNotFoundError, match="make student"):
        cw.grade(NOTEBOOKS[0].stem[:2], tmp_path / "x.ipynb", build_dir=tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('PROFILE = "full"')]
    nbformat.write(nb, tmp_path / "n.ipynb")
    with pytest.raises(ValueError, match="parameters"):
        cw.set_parameters(tmp_path / "n.ipynb", PROFILE="smoke")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_names_are_their_own(path):
    """A name an exercise defines is used nowhere else in the notebook: a student's stub (or a
    solution) can never change what a later cell computes."""
    nb = nbformat.read(path, as_version=4)
    inside, question_code, other_code = False, [], []
    for cell in nb.cells:
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("# BEGIN QUESTION"):
            inside = True
        elif cell.cell_type == "raw" and src.startswith("# END QUESTION"):
            inside = False
        elif cell.cell_type == "code":
            (question_code if inside else other_code).append(cell.source)
    names = set(re.findall(r"^def (\w+)", "\n".join(question_code), re.M))
    clash = {n for n in names for s in other_code if re.search(rf"\b{n}\b", s)}
    assert not clash, f"{path.stem}: exercise names also used by the notebook: {sorted(clash)}"
