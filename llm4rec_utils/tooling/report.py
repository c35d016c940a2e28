"""The run's front page, ``build/index.html``: one row per notebook (status, wall time, peak
memory, a link to its executed HTML: the student edition, and apart the teacher copy with the
solutions, see ``pages``), the ten slowest cells of the run, a chart of wall time per notebook,
the figures the notebooks tag for it (``report-figure``: 08's quality-vs-cost Pareto plot) and
the leaderboards of ``RESULTS.md``.

:func:`write_pages_site` copies what may be published (GitHub Pages) into a folder of its own:
the report, the executed notebooks' pages (student editions and teacher copies), the figures and
the MathJax the pages load (copied from the package, not from the build folder), never
``build/cache/`` (model weights) nor a file derived from the data (MovieLens' licence forbids
redistributing it). A student page that shows a solution or hidden-test marker is refused.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import sys
from pathlib import Path

import nbformat

from .frontpage import anchors_html, claims_html


def _source_cells(executed: str | Path):
    """(index in the source notebook, cell) of an executed notebook: papermill's injected
    parameters cell and its error banners are not counted."""
    index = 0
    for c in nbformat.read(executed, as_version=4).cells:
        tags = c.metadata.get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue
        yield index, c
        index += 1


def cell_durations(executed: str | Path) -> list[dict]:
    """Each code cell's duration as papermill recorded it: ``[{notebook, cell, seconds,
    first_line}]``, with ``cell`` the index in the *source* notebook (papermill's injected
    parameters cell is not counted)."""
    out = []
    for index, c in _source_cells(executed):
        seconds = c.metadata.get("papermill", {}).get("duration")
        if c.cell_type == "code" and seconds is not None:
            first = next((ln for ln in c.source.splitlines() if ln.strip()), "")
            out.append(
                {
                    "notebook": Path(executed).stem,
                    "cell": index,
                    "seconds": float(seconds),
                    "first_line": first[:80],
                }
            )
    return out


def slowest_cells(executed: list[str | Path], n: int = 10) -> list[dict]:
    """The ``n`` slowest cells over all the executed notebooks, slowest first."""
    rows = [r for path in executed if Path(path).exists() for r in cell_durations(path)]
    return sorted(rows, key=lambda r: r["seconds"], reverse=True)[:n]


FIGURE_TAG = "report-figure"


def report_figures(executed: list[str | Path], out: str | Path) -> list[dict]:
    """The PNG outputs of every executed code cell tagged :data:`FIGURE_TAG`, written to
    ``out`` as ``figure_<notebook>_<cell>.png``: ``[{notebook, cell, file}]``. A tagged cell
    that drew nothing (e.g. a failed run) contributes nothing."""
    figures = []
    for path in executed:
        if not Path(path).exists():
            continue
        for index, c in _source_cells(path):
            if FIGURE_TAG not in c.metadata.get("tags", []):
                continue
            outputs = [o.get("data", {}) for o in c.get("outputs", [])]
            pngs = [d["image/png"] for d in outputs if "image/png" in d]
            for k, png in enumerate(pngs):
                name = f"figure_{Path(path).stem}_{index}" + (f"_{k}" if k else "") + ".png"
                (Path(out) / name).write_bytes(base64.b64decode(png))
                figures.append({"notebook": Path(path).stem, "cell": index, "file": name})
    return figures


def _wall_time_chart(results: dict, out: Path) -> str | None:
    """A bar chart of wall time per notebook, saved beside the page; its file name."""
    notebooks = results.get("notebooks", {})
    if not notebooks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(notebooks)
    walls = [notebooks[n].get("wall_s") or 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    colors = ["tab:blue" if notebooks[n].get("status") == "ok" else "tab:red" for n in names]
    ax.barh(names[::-1], walls[::-1], color=colors[::-1])
    ax.set(xlabel="wall time (s)", title=f"Wall time per notebook (total {sum(walls):,.0f} s)")
    fig.tight_layout()
    fig.savefig(out / "wall_time.png", dpi=100)
    plt.close(fig)
    return "wall_time.png"


def _leaderboards_html(results: dict) -> str:
    import mistune

    from .results import leaderboard_tables

    text = "\n".join(
        f"### {proto}\n\n" + "\n".join(table) + "\n"
        for proto, table in leaderboard_tables(results).items()
    )
    return mistune.create_markdown(plugins=["table"])(text) if text else "<p>none recorded</p>"


def _num(v, spec: str) -> str:
    """A number for the page; blank where it was not measured (``None``) or is not a number."""
    return format(v, spec) if isinstance(v, int | float) else ""


def _note(nb: dict) -> str:
    note = nb.get("memory_note", "")
    return f" ({note})" if note else ""


def write_index(build_dir: str | Path, results: dict) -> Path:
    """Write ``build_dir/index.html`` from the results and the executed notebooks there."""
    build_dir = Path(build_dir)
    prov = results.get("provenance", {})
    rows = []
    for name, nb in sorted(results.get("notebooks", {}).items()):
        page = build_dir / f"{name}.html"
        esc = html.escape(str(name))
        link = f"<a href='{esc}.html'>{esc}</a>" if page.exists() else esc
        teacher = (
            f"<a class='teacher' href='{esc}.teacher.html'>teacher copy (contains solutions)</a>"
            if (build_dir / f"{name}.teacher.html").exists()
            else ""
        )
        error = html.escape(str(nb.get("error", "")) + _note(nb))
        status = str(nb.get("status"))
        css = status if status in ("ok", "failed") else "other"
        rows.append(
            f"<tr><td>{link}</td><td class='{css}'>{html.escape(status)}</td>"
            f"<td>{_num(nb.get('wall_s'), ',.1f')}</td><td>{_num(nb.get('peak_rss_mb'), ',.0f')}"
            f"</td><td class='err'>{error}</td><td>{teacher}</td></tr>"
        )
    total = sum(nb.get("wall_s") or 0.0 for nb in results.get("notebooks", {}).values())
    executed = sorted(build_dir.glob("[0-9][0-9]_*.ipynb"))
    slow = [
        f"<tr><td>{html.escape(r['notebook'])}</td><td>{r['cell']}</td>"
        f"<td>{r['seconds']:,.1f}</td><td><code>{html.escape(r['first_line'])}</code></td></tr>"
        for r in slowest_cells(executed)
    ]
    chart = _wall_time_chart(results, build_dir)
    figures = "".join(
        f"<h3>{html.escape(f['notebook'])}, cell {f['cell']}</h3>"
        f"<a href='{f['notebook']}.html'><img src='{f['file']}' alt='figure of "
        f"{html.escape(f['notebook'])}' style='max-width:100%'></a>"
        for f in report_figures(executed, build_dir)
    )
    prov_items = "".join(
        f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in prov.items()
    )
    style = (
        "body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        ".wide{overflow-x:auto}"
        ".ok{color:#080}.failed{color:#b00;font-weight:bold}.err{color:#b00;font-size:90%}"
        ".sup{color:#080;font-weight:bold}.notsup{color:#b00;font-weight:bold}.und{color:#666}"
        ".teacher{color:#b00}"
    )
    page = f"""<!doctype html><html><head><meta charset='utf-8'><title>llm4rec run</title>
<style>{style}</style></head><body>
<h1>llm4rec: this run</h1>
<p>Generated by <code>python -m llm4rec_utils.tooling.runner</code>. Every number on this page
and in the notebooks comes from this run. Full report: <a href='RESULTS.html'>RESULTS.html</a>;
raw numbers: <a href='results.json'>results.json</a>.</p>
<ul>{prov_items}</ul>
<h2>Claims: what this run found</h2>
<p>Each verdict is computed by the verdict engine from this run's numbers (paired intervals;
a tie is undecided). The rules: <code>docs/claims.md</code>.</p>
<div class='wide'>{claims_html(results)}</div>
<h2>Published numbers beside this run's</h2>
<div class='wide'>{anchors_html(results)}</div>
<h2>Notebooks</h2>
<p>Each notebook links to its student edition: this run's outputs, with the exercises'
solutions replaced by <code>...</code> and their hidden checks left out. Teachers find the
executed notebook as it ran, solutions included, in the last column.</p>
<table><tr><th>notebook</th><th>status</th><th>wall (s)</th><th>peak RSS (MB)</th>
<th>error</th><th>for teachers</th></tr>{"".join(rows)}
<tr><td><b>total</b></td><td></td><td><b>{total:,.1f}</b></td><td></td><td></td><td></td></tr>
</table>
{f"<img src='{chart}' alt='wall time per notebook'>" if chart else ""}
<h2>The ten slowest cells</h2>
<table><tr><th>notebook</th><th>cell</th><th>seconds</th><th>first line</th></tr>
{"".join(slow)}</table>
<h2>Figures</h2>
{figures or "<p>none in this run</p>"}
<h2>Leaderboards</h2>
<div class='wide'>{_leaderboards_html(results)}</div>
</body></html>
"""
    out = build_dir / "index.html"
    out.write_text(page, encoding="utf-8")
    return out


# What GitHub Pages may show: the report, the executed notebooks' pages (student editions and
# teacher copies) and the figures; beside them the MathJax copy (pages.copy_mathjax, from the
# package). Everything else in build/ stays private: cache/ (model weights), data-derived files
# (tallrec-train.jsonl, *.npy, *.pt), the executed .ipynb, student and autograder bundles, locks.
STUDENT_PAGE = r"[0-9][0-9]_\w+\.html"
PAGES_FILES = (
    r"index\.html",
    r"RESULTS\.(md|html)",
    r"results\.json",  # the raw numbers index.html links to (metrics and provenance only)
    STUDENT_PAGE,
    r"[0-9][0-9]_\w+\.teacher\.html",
    r"wall_time\.png",
    r"figure_\w+\.png",
)


def pages_files(build_dir: str | Path) -> list[Path]:
    """The files of ``build_dir`` (top level only, plain files) that may be published."""
    allowed = re.compile("|".join(f"(?:{p})" for p in PAGES_FILES))
    build_dir = Path(build_dir)
    return sorted(
        p
        for p in build_dir.iterdir()
        if allowed.fullmatch(p.name) and p.is_file() and not p.is_symlink()
    )


def check_student_pages(files: list[Path]) -> None:
    """Refuse a student page that shows otter's config or a solution or hidden-test marker
    (a teacher page left by an older run under the student page's name, say)."""
    from .coursework import CONFIG_MARK, SOLUTION_MARKS

    student = re.compile(STUDENT_PAGE)
    for f in files:
        if student.fullmatch(f.name):
            text = html.unescape(f.read_text(encoding="utf-8", errors="replace"))
            shown = [m for m in (CONFIG_MARK, *SOLUTION_MARKS) if m in text]
            if shown:
                raise ValueError(
                    f"{f} is published as a student page but shows {shown[0]!r}: rerun that "
                    "notebook (the runner writes its student edition) or delete the page"
                )


def write_pages_site(build_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Copy :func:`pages_files` into ``out_dir`` (emptied first), the folder the workflow
    uploads to GitHub Pages, with the pages' MathJax (``out_dir/mathjax``, from the package);
    returns the copies of the build folder's files."""
    from .pages import MATHJAX_DIR, copy_mathjax

    build_dir, out_dir = Path(build_dir).resolve(), Path(out_dir).resolve()
    if out_dir == build_dir or out_dir in build_dir.parents:
        raise ValueError(f"the site folder {out_dir} must not be (or hold) {build_dir}")
    files = pages_files(build_dir)
    check_student_pages(files)
    if out_dir.exists():  # a previous site is replaced; any other folder is left alone
        previous = pages_files(out_dir) if out_dir.is_dir() else None
        mathjax = out_dir / MATHJAX_DIR
        if previous is not None and mathjax.is_dir() and not mathjax.is_symlink():
            previous = sorted([*previous, mathjax])
        if previous is None or sorted(out_dir.iterdir()) != previous:
            raise ValueError(f"{out_dir} exists and is not a site this wrote: give a new folder")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    copied = [Path(shutil.copy2(f, out_dir / f.name)) for f in files]
    copy_mathjax(out_dir)
    return copied


def main(argv: list[str] | None = None) -> int:
    from .cli import OneLineParser

    parser = OneLineParser(prog="python -m llm4rec_utils.tooling.report")
    sub = parser.add_subparsers(dest="command", required=True)
    pages = sub.add_parser("pages", help="copy what GitHub Pages may show into a folder")
    pages.add_argument("build_dir", type=Path)
    pages.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if not args.build_dir.is_dir():
        parser.refuse(f"{args.build_dir} is not a folder: give the run's build folder")
    try:
        copied = write_pages_site(args.build_dir, args.out_dir)
    except (ValueError, OSError) as err:
        parser.refuse(err)
    names = ", ".join(p.name for p in copied)
    print(f"{len(copied)} files and the MathJax copy in {args.out_dir}: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
