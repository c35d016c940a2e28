"""Summaries printed by the run: each notebook's headline table and its verdicts on claims.

A notebook's markdown may say what to expect, never what was measured; the numbers and the
verdicts a reader sees come from these helpers, computed from this run's ``results.json`` and
variables, so they stay true on another seed, profile or machine.
"""

from __future__ import annotations

import math
import os

import pandas as pd

from .tooling.results import KEY_EXTRAS, read_results

CLAIMS_DOC = "../docs/claims.md"  # where notebooks link the source articles' claims


def fmt(value: float, digits: int = 3) -> str:
    """A number as a reader wants it: ``digits`` significant digits, thousands separators,
    and millions or billions spelled short (``518 M``) instead of nine-digit integers.

    Whole numbers below a million (counts) are printed exactly.

    >>> fmt(0.11194), fmt(12734.2), fmt(518385823), fmt(2.9e-06), fmt(1682)
    ('0.112', '12,700', '518 M', '2.90e-06', '1,682')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    if v == 0:
        return "0"
    if v.is_integer() and 1 <= abs(v) < 1e6:  # counts stay exact, without decimals
        return f"{v:,.0f}"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if abs(v) >= scale:
            return f"{_round_sig(v / scale, digits):g} {suffix}"
    if abs(v) >= 10 ** (digits - 1):  # integers and large numbers: round, separate thousands
        return f"{_round_sig(v, digits):,.0f}"
    if abs(v) < 1e-4:
        return f"{v:.{digits - 1}e}"
    return f"{_round_sig(v, digits):.{max(0, digits - 1 - math.floor(math.log10(abs(v))))}f}"


def _round_sig(v: float, digits: int) -> float:
    return round(v, -int(math.floor(math.log10(abs(v)))) + digits - 1)


def fmt_ci(value: float, low: float, high: float) -> str:
    """``0.744 [0.719, 0.768]``: a value with its 95% interval."""
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def notebook_table(
    results: dict | str | os.PathLike,
    notebook: str,
    metrics: list[str] | None = None,
    protocols: list[str] | None = None,
) -> pd.DataFrame:
    """This notebook's recorded metrics as a (model, protocol) x metric table of formatted
    strings, in the order they were recorded. ``metrics``/``protocols`` keep only those."""
    data = results if isinstance(results, dict) else read_results(results)
    rows = [m for m in data["metrics"] if m["notebook"] == notebook]
    if metrics is not None:
        rows = [m for m in rows if m["metric"] in metrics]
    if protocols is not None:
        rows = [m for m in rows if m["protocol"] in protocols]
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    extras = [k for k in KEY_EXTRAS if k in frame]
    index = ["model", "protocol", *extras]
    for k in extras:
        frame[k] = [("" if v != v else f"{v:g}") for v in frame[k]]  # NaN -> ""
    table = frame.pivot_table(index=index, columns="metric", values="value", sort=False)
    cols = [c for c in dict.fromkeys(frame["metric"]) if c in table.columns]
    return table[cols].map(fmt)


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``×3.4``, or ``–`` when ``b`` is zero."""
    return "–" if b == 0 else f"×{fmt(a / b)}"


def recap(items: list[str]) -> str:
    """The Summary's last lines: what the notebook taught, one line per "What you will learn"
    item (methods, not results: the results are the lines above, printed from this run)."""
    return "What this notebook taught:\n" + "\n".join(f"  - {item}" for item in items)
