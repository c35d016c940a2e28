"""The run's front page, ``build/index.html``: one row per notebook (status, wall time, peak
memory, a link to its executed HTML), the ten slowest cells of the run, a chart of wall time per
notebook, the figures the notebooks tag for it (``report-figure``: 08's quality-vs-cost Pareto
plot) and the leaderboards of ``RESULTS.md``.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import nbformat


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
    walls = [notebooks[n].get("wall_s", 0.0) for n in names]
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


def write_index(build_dir: str | Path, results: dict) -> Path:
    """Write ``build_dir/index.html`` from the results and the executed notebooks there."""
    build_dir = Path(build_dir)
    prov = results.get("provenance", {})
    rows = []
    for name, nb in sorted(results.get("notebooks", {}).items()):
        page = build_dir / f"{name}.html"
        link = f"<a href='{name}.html'>{name}</a>" if page.exists() else html.escape(name)
        error = html.escape(nb.get("error", ""))
        rows.append(
            f"<tr><td>{link}</td><td class='{nb.get('status')}'>{nb.get('status')}</td>"
            f"<td>{nb.get('wall_s', 0):,.1f}</td><td>{nb.get('peak_rss_mb', 0):,.0f}</td>"
            f"<td class='err'>{error}</td></tr>"
        )
    total = sum(nb.get("wall_s", 0.0) for nb in results.get("notebooks", {}).values())
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
    )
    page = f"""<!doctype html><html><head><meta charset='utf-8'><title>llm4rec run</title>
<style>{style}</style></head><body>
<h1>llm4rec: this run</h1>
<p>Generated by <code>python -m llm4rec_utils.tooling.runner</code>. Every number on this page
and in the notebooks comes from this run. Full report: <a href='RESULTS.html'>RESULTS.html</a>;
raw numbers: <a href='results.json'>results.json</a>.</p>
<ul>{prov_items}</ul>
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>wall (s)</th><th>peak RSS (MB)</th>
<th>error</th></tr>{"".join(rows)}
<tr><td><b>total</b></td><td></td><td><b>{total:,.1f}</b></td><td></td><td></td></tr></table>
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
