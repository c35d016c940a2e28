"""The executed notebooks' pages: a student edition (outputs kept, no solution) that the front page
links, a teacher copy marked as one and linked apart, and formulas rendered by a MathJax copy
beside the pages, never a CDN."""

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from llm4rec_utils.tooling import pages, report

# What headless chromium fetched rendering notebooks 03 and 06 from the copy (one page each)
FETCHED = [
    "MathJax.js",
    "config/Safe.js",
    "config/TeX-AMS-MML_HTMLorMML-full.js",
    "config/local/offline.js",
    "extensions/Safe.js",
    "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Main-Regular.woff",
    "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Normal-Italic.woff",
    "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Size3-Regular.woff",
    "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Variants-Italic.woff",
    "jax/element/mml/optable/GeneralPunctuation.js",
    "jax/output/HTML-CSS/fonts/STIX-Web/fontdata.js",
    "jax/output/HTML-CSS/fonts/STIX-Web/Main/Regular/Main.js",
    "jax/output/HTML-CSS/fonts/STIX-Web/Normal/Italic/Main.js",
    "jax/output/HTML-CSS/fonts/STIX-Web/Size3/Regular/Main.js",
]
SOLUTION = "return np.tril(np.ones((n, n), dtype=bool))"
HIDDEN = "assert allowed_mask(4).sum() == 10"


def executed_coursework(path):
    """A small executed teacher notebook in otter's format: a formula, a question with a
    solution (its cell printed something), a public and a hidden check, and a later cell whose
    traceback runs through the solution."""
    cells = [
        new_raw_cell("# ASSIGNMENT CONFIG\nname: 03_mask\ninit_cell: true"),
        new_markdown_cell("# 03 · Masks\nThe normalised adjacency $D^{-1/2}AD^{-1/2}$."),
        new_code_cell("import numpy as np"),
        new_raw_cell("# BEGIN QUESTION\nname: q1_mask\npoints: 2"),
        new_markdown_cell("Write `allowed_mask(n)`."),
        new_raw_cell("# BEGIN SOLUTION"),
        new_code_cell(
            f"def allowed_mask(n):\n    # BEGIN SOLUTION\n    {SOLUTION}\n    # END SOLUTION\n"
            "print('defined')"
        ),
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# BEGIN TESTS"),
        new_code_cell("assert allowed_mask(3).shape == (3, 3)"),
        new_code_cell(f"# HIDDEN\n{HIDDEN}"),
        new_code_cell('""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\nassert 1'),
        new_raw_cell("# END TESTS"),
        new_raw_cell("# END QUESTION"),
        new_code_cell("allowed_mask(2)"),
        new_code_cell("allowed_mask(-1)"),
    ]
    for i, c in enumerate(cells):
        if c.cell_type == "code":
            c.execution_count = i
            c.outputs = [new_output("stream", name="stdout", text=f"output of cell {i}\n")]
    cells[-1].outputs = [
        new_output(
            "error",
            ename="ValueError",
            evalue="negative dimensions are not allowed",
            traceback=["Cell In[6], line 3, in allowed_mask(n)", f"----> 3     {SOLUTION}"],
        )
    ]
    nbformat.write(new_notebook(cells=cells), path)
    return path


def _visible(page: str) -> str:
    """The text a reader sees: the page without its tags, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_student_page_keeps_outputs_and_hides_solutions_teacher_copy_is_marked(tmp_path):
    executed = executed_coursework(tmp_path / "03_mask.ipynb")
    written = pages.export_pages(executed)
    student, teacher = tmp_path / "03_mask.html", tmp_path / "03_mask.teacher.html"
    assert written == [student, teacher]
    seen = _visible(student.read_text())
    assert "Student edition" in seen and "Teacher copy" not in seen
    for secret in (SOLUTION, HIDDEN, "ASSIGNMENT CONFIG", "BEGIN SOLUTION", "# HIDDEN",
                   "BEGIN TEST CONFIG", "BEGIN QUESTION", "output of cell 6"):  # fmt: skip
        assert secret not in seen, secret
    assert "def allowed_mask(n):\n    ..." in seen  # otter's stub
    assert "assert allowed_mask(3).shape == (3, 3)" in seen  # the public check stays
    assert "output of cell 9" in seen and "output of cell 14" in seen  # the run's outputs stay
    assert "output withheld from the student edition" in seen  # the traceback quoting it
    shown = _visible(teacher.read_text())
    assert "Teacher copy: contains solutions" in shown
    assert SOLUTION in shown and HIDDEN in shown and "ASSIGNMENT CONFIG" in shown
    assert "<title>03_mask (teacher copy: contains solutions)</title>" in teacher.read_text()
    assert "href='03_mask.html'" in teacher.read_text() or 'href="03_mask.html"' in (
        teacher.read_text()
    )


def test_a_notebook_without_coursework_gets_one_page(tmp_path):
    path = tmp_path / "10_plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1  # the answer")]), path)
    (tmp_path / "10_plain.teacher.html").write_text("stale")
    assert pages.export_pages(path) == [tmp_path / "10_plain.html"]
    assert not (tmp_path / "10_plain.teacher.html").exists()
    assert "x = 1" in _visible((tmp_path / "10_plain.html").read_text())


def test_no_student_page_when_the_edition_would_show_a_solution(tmp_path):
    """A marker the stripping cannot remove (in a cell outside any exercise) leaves the teacher
    copy only: no student page, and the error is raised for the runner to print."""
    executed = executed_coursework(tmp_path / "03_mask.ipynb")
    nb = nbformat.read(executed, as_version=4)
    nb.cells[2].source = "import numpy as np  # HIDDEN from view"
    nbformat.write(nb, executed)
    (tmp_path / "03_mask.html").write_text("an older student page")
    with pytest.raises(RuntimeError, match="still shows solution text"):
        pages.export_pages(executed)
    assert not (tmp_path / "03_mask.html").exists()
    assert (tmp_path / "03_mask.teacher.html").exists()


def test_pages_load_mathjax_from_the_copy_beside_them_not_a_cdn(tmp_path):
    executed = executed_coursework(tmp_path / "03_mask.ipynb")
    for page in pages.export_pages(executed):
        text = page.read_text()
        scripts = re.findall(r"<script[^>]*\bsrc=['\"]([^'\"]*)", text)
        assert scripts == [pages.MATHJAX_URL], scripts  # no require.js, no CDN
        assert not re.search(r"(src|href)=['\"](https?:)?//", text)
        assert "D^{-1/2}AD^{-1/2}" in text  # left for MathJax to typeset
    copy = pages.copy_mathjax(tmp_path)
    assert copy == tmp_path / pages.MATHJAX_URL.split("/")[0]
    files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    missing = [f for f in FETCHED if f not in files]
    assert not missing, missing
    assert all(f.endswith((".js", ".woff")) or f == "LICENSE" for f in files)
    size = sum(p.stat().st_size for p in copy.rglob("*") if p.is_file())
    assert 1_000_000 < size < 2_500_000, size  # the HTML-CSS output and its fonts, no more
    config = (copy / "config/local/offline.js").read_text()
    assert 'webFont: "STIX-Web"' in config and "imageFont: null" in config
    assert pages.copy_mathjax(tmp_path) == copy  # its own copy is replaced
    other = tmp_path / "site" / "mathjax"
    other.mkdir(parents=True)
    with pytest.raises(ValueError, match="not a MathJax copy"):
        pages.copy_mathjax(tmp_path / "site")


def test_index_links_student_pages_and_teacher_copies_apart(tmp_path):
    executed = executed_coursework(tmp_path / "03_mask.ipynb")
    pages.export_pages(executed)
    results = {"notebooks": {"03_mask": {"status": "ok", "wall_s": 1.0, "peak_rss_mb": 9}}}
    index = report.write_index(tmp_path, results).read_text()
    assert "<a href='03_mask.html'>03_mask</a>" in index
    assert (
        "<a class='teacher' href='03_mask.teacher.html'>teacher copy (contains solutions)</a>"
        in index
    )
    site = report.write_pages_site(tmp_path, tmp_path.parent / "site")
    assert [p.name for p in site] == [
        "03_mask.html", "03_mask.teacher.html", "index.html", "wall_time.png"]  # fmt: skip
    assert (tmp_path.parent / "site" / "mathjax" / "MathJax.js").is_file()
