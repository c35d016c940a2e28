"""The pages a reader opens: each executed notebook as HTML, twice where it is coursework.

``NN_name.html`` is the run's *student edition* (:func:`.coursework.executed_student_edition`:
every output kept, solutions replaced by otter's ``...`` stubs, hidden checks removed), the page
the front page links. ``NN_name.teacher.html`` is the *teacher copy*, the executed notebook as it
ran (otter's config cell, every solution and hidden test), marked so at its top and linked
apart. A notebook without coursework gets the one page.

Formulas render offline: MathJax 2.7 comes from the environment (the static files of the
``jupyter-server-mathjax`` package); :func:`copy_mathjax` copies the files its TeX input and
HTML-CSS output with the STIX-Web fonts load (:data:`MATHJAX_FILES`, about 1.9 MB) into
``mathjax/`` beside the pages, which load it by the relative :data:`MATHJAX_URL`. No page needs
a CDN: nbconvert's require.js tag is dropped where no output needs it (widgets, JavaScript).
"""

from __future__ import annotations

import copy
import html
import shutil
from pathlib import Path

import nbformat

# MathJax 2's combined TeX + MathML config (inputs, HTML-CSS output, menus), nbconvert's Safe
# extension, and ours: the STIX-Web web fonts, the only ones the package ships
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/offline"
OFFLINE_CONFIG = """\
/* llm4rec: the pages render formulas from this copy, never a CDN (llm4rec_utils.tooling.pages) */
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/offline.js");
"""
# What those load, relative to the package's static/ folder: the loader and the configs, the
# extensions loaded on demand (menu, zoom, font warnings, TeX macros such as \\color or \\cancel),
# the operator dictionary, the HTML-CSS output's glyph data and the STIX-Web fonts (woff)
MATHJAX_FILES = (
    "LICENSE",
    "MathJax.js",
    "config/TeX-AMS-MML_HTMLorMML-full.js",
    "config/Safe.js",
    "extensions/Safe.js",
    "extensions/MathEvents.js",
    "extensions/MathMenu.js",
    "extensions/MathZoom.js",
    "extensions/FontWarnings.js",
    "extensions/HelpDialog.js",
    "extensions/TeX/*.js",
    "jax/element/mml/optable/*.js",
    "jax/output/HTML-CSS/**/*.js",
    "fonts/HTML-CSS/STIX-Web/woff/*.woff",
)
MATHJAX_DIR = "mathjax"
_OURS = Path("config/local/offline.js")  # marks a folder this wrote (and may replace)
# outputs that need require.js (nbconvert loads it from a CDN)
NEEDS_REQUIRE = ("application/javascript", "application/vnd.jupyter.widget-view+json")

STUDENT_BANNER = (
    "<div class='llm4rec-edition' style='border:2px solid #2a6;background:#efe;"
    "padding:.5em 1em'><b>Student edition</b> of this run: every output is the run's own; each "
    "exercise's solution is replaced by <code>...</code> for you to write, and its hidden checks "
    "are left out (the public ones stay). <a href='index.html'>All notebooks</a>.</div>"
)
TEACHER_BANNER = (
    "<div class='llm4rec-edition' style='border:3px solid #b00;background:#fee;"
    "padding:.5em 1em'><b>Teacher copy: contains solutions</b> and hidden tests (the notebook "
    "as it ran, otter's assignment config included). Students open the student edition, "
    "<a href='{student}'>{student}</a>. <a href='index.html'>All notebooks</a>.</div>"
)


def mathjax_source() -> Path:
    """The MathJax 2.7 static folder the ``jupyter-server-mathjax`` package ships."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise FileNotFoundError(
            "jupyter-server-mathjax is missing (it serves MathJax to the pages): run `make install`"
        ) from err
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def mathjax_files(source: Path | None = None) -> list[Path]:
    """The files of :data:`MATHJAX_FILES`, relative to the static folder; every pattern must
    match (a package that moved its files fails here, not in a reader's browser)."""
    source = mathjax_source() if source is None else source
    files = set()
    for pattern in MATHJAX_FILES:
        hits = [p for p in source.glob(pattern) if p.is_file() and not p.is_symlink()]
        if not hits:
            raise FileNotFoundError(f"MathJax file {pattern} missing from {source}")
        files.update(p.relative_to(source) for p in hits)
    return sorted(files)


def copy_mathjax(out_dir: str | Path) -> Path:
    """Copy :func:`mathjax_files` and the offline config into ``out_dir/mathjax`` (a copy this
    wrote before is replaced, any other folder of that name refused); returns the folder."""
    source, target = mathjax_source(), Path(out_dir) / MATHJAX_DIR
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not (target / _OURS).is_file():
            raise ValueError(f"{target} exists and is not a MathJax copy this wrote")
        shutil.rmtree(target)
    for rel in mathjax_files(source):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target / rel)
    (target / _OURS).parent.mkdir(parents=True, exist_ok=True)
    (target / _OURS).write_text(OFFLINE_CONFIG, encoding="utf-8")
    return target


def _needs_require(nb) -> bool:
    if "widgets" in nb.metadata:
        return True
    return any(
        kind in o.get("data", {})
        for c in nb.cells
        for o in c.get("outputs", [])
        for kind in NEEDS_REQUIRE
    )


def to_html(nb, title: str) -> str:
    """The notebook as one HTML page whose MathJax is the copy beside it (:data:`MATHJAX_URL`)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(mathjax_url=MATHJAX_URL)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    if not _needs_require(nb):
        body = body.replace(f'<script src="{exporter.require_js_url}"></script>', "", 1)
    return body


def _with_banner(nb, banner: str):
    out = copy.deepcopy(nb)  # the banner is the page's, not the notebook's
    out.cells.insert(0, nbformat.v4.new_markdown_cell(banner))
    return out


def teacher_page(executed: str | Path) -> Path:
    """Where the teacher copy of an executed notebook goes: ``NN_name.teacher.html``."""
    executed = Path(executed)
    return executed.with_name(f"{executed.stem}.teacher.html")


def export_pages(executed: str | Path) -> list[Path]:
    """Write the pages of one executed notebook beside it: the student edition
    ``NN_name.html`` and, for coursework, the teacher copy ``NN_name.teacher.html``. If the
    student edition cannot be made without showing a solution, only the teacher copy is written
    (no stale student page stays) and the error is raised."""
    from .coursework import CONFIG_MARK, executed_student_edition

    executed = Path(executed)
    nb = nbformat.read(executed, as_version=4)
    student, teacher = executed.with_suffix(".html"), teacher_page(executed)
    name = executed.stem
    coursework = any(c.cell_type == "raw" and c.source.startswith(CONFIG_MARK) for c in nb.cells)
    if not coursework:
        teacher.unlink(missing_ok=True)
        student.write_text(to_html(nb, name), encoding="utf-8")
        return [student]
    banner = TEACHER_BANNER.format(student=html.escape(student.name, quote=True))
    teacher.write_text(
        to_html(_with_banner(nb, banner), f"{name} (teacher copy: contains solutions)"),
        encoding="utf-8",
    )
    try:
        edition = executed_student_edition(nb)
    except Exception:
        student.unlink(missing_ok=True)
        raise
    student.write_text(to_html(_with_banner(edition, STUDENT_BANNER), name), encoding="utf-8")
    return [student, teacher]
