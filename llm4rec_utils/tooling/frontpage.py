"""The two tables the front page opens with (``index.html`` and ``RESULTS.md``): every claim's
verdict from ``results.json`` (``claims``), and each published anchor beside this run's value."""

from __future__ import annotations

import html

from ..anchors import anchor_rows
from ..claims import read_claims, verdict_from_record
from ..verdicts import effect_text

CLAIM_COLUMNS = (
    "article",
    "claim",
    "notebook §",
    "verdict",
    "effect [95% interval]",
    "test",
    "seeds",
)


def claim_rows(results: dict) -> list[dict]:
    rows = []
    for c in read_claims(results):
        v = verdict_from_record(c)
        effect = effect_text(v)
        if v.margin is not None:
            effect += f", margin {v.margin:g}"
        rows.append(
            {
                "article": c["article"],
                "claim": c["statement"],
                "notebook §": f"{c['notebook']} {c['section']}",
                "verdict": c["verdict"],
                "effect [95% interval]": effect,
                "test": c["test"],
                "seeds": c["seeds"] if (c.get("recipe") or c["seeds"] > 1) else "–",
                "id": c["id"],
            }
        )
    return rows


def _md(x) -> str:
    return " ".join(str(x).split()).replace("|", "\\|")


def claims_markdown(results: dict) -> list[str]:
    rows = claim_rows(results)
    if not rows:
        return ["No claim was judged in this run."]
    out = ["| " + " | ".join(CLAIM_COLUMNS) + " |", "|" + " --- |" * len(CLAIM_COLUMNS)]
    out += ["| " + " | ".join(_md(r[c]) for c in CLAIM_COLUMNS) + " |" for r in rows]
    counts = {
        v: sum(r["verdict"] == v for r in rows) for v in ("supported", "not supported", "undecided")
    }
    out += [
        "",
        ", ".join(f"{n} {v}" for v, n in counts.items()) + f" (of {len(rows)} claims judged)",
    ]
    return out


ANCHOR_COLUMNS = (
    "source",
    "model",
    "protocol",
    "metric",
    "published",
    "this run",
    "this run's row",
    "protocols",
)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "–" if v is None else str(v)


def anchors_markdown(results: dict) -> list[str]:
    out = ["| " + " | ".join(ANCHOR_COLUMNS) + " |", "|" + " --- |" * len(ANCHOR_COLUMNS)]
    out += [
        "| " + " | ".join(_md(_cell(r[c])) for c in ANCHOR_COLUMNS) + " |"
        for r in anchor_rows(results)
    ]
    return out


def _html_table(columns, rows, css=None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            cls = f" class='{css(c, r)}'" if css else ""
            cells.append(f"<td{cls}>{html.escape(_cell(r[c]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def claims_html(results: dict) -> str:
    rows = claim_rows(results)
    if not rows:
        return "<p>No claim was judged in this run.</p>"
    style = {"supported": "sup", "not supported": "notsup", "undecided": "und"}
    return _html_table(
        CLAIM_COLUMNS, rows, lambda c, r: style[r["verdict"]] if c == "verdict" else ""
    )


def anchors_html(results: dict) -> str:
    return _html_table(ANCHOR_COLUMNS, anchor_rows(results))
