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


def verdict(claim: str, holds: bool | None, evidence: str) -> str:
    """One line on one claim: whether this run supports it, and the numbers that say so.

    ``holds=None`` means this run cannot tell (e.g. the intervals overlap)."""
    word = {True: "supported", False: "not supported", None: "undecided"}[holds]
    return f"[{word}] {claim} — {evidence}"


def compare(
    name_a: str,
    a: float,
    name_b: str,
    b: float,
    ci_a: tuple[float, float] | None = None,
    ci_b: tuple[float, float] | None = None,
    metric: str = "",
    min_gap: float = 0.0,
) -> tuple[bool | None, str]:
    """Is ``a`` higher than ``b``? With intervals, overlapping ones give ``None`` (too close to
    call); so does a difference smaller than ``min_gap``. Returns (answer, a sentence whose
    wording follows the numbers)."""
    show_a = fmt_ci(a, *ci_a) if ci_a else fmt(a)
    show_b = fmt_ci(b, *ci_b) if ci_b else fmt(b)
    m = f" {metric}" if metric else ""
    if a != a or b != b:  # NaN: one side was not measured in this run (or this results file)
        missing = name_a if a != a else name_b
        return None, f"{missing}{m} is not measured in this run, so there is nothing to compare"
    if abs(a - b) < min_gap:
        gap = fmt(min_gap)
        return None, f"{name_a}{m} {show_a} and {name_b} {show_b} differ by less than {gap}"
    if ci_a and ci_b and not (ci_a[0] > ci_b[1] or ci_b[0] > ci_a[1]):
        word = "higher" if a > b else "lower" if a < b else "equal"
        text = f"{name_a}{m} {show_a} is {word} than {name_b} {show_b}, but the intervals overlap"
        return None, text
    if a > b:
        return True, f"{name_a}{m} {show_a} is higher than {name_b} {show_b}"
    if a < b:
        return False, f"{name_a}{m} {show_a} is lower than {name_b} {show_b}"
    return False, f"{name_a}{m} {show_a} equals {name_b} {show_b}"


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``×3.4``, or ``–`` when ``b`` is zero."""
    return "–" if b == 0 else f"×{fmt(a / b)}"


def gain_verdict(gain: float, low: float, high: float, metric: str = "") -> tuple[bool | None, str]:
    """A paired difference "with minus without" and its interval: ``True`` when the interval
    lies above 0, ``False`` below it, ``None`` (undecided) when it contains 0 or is missing."""
    m = f"{metric} " if metric else ""
    shown = f"{m}gain {gain:+.4f} [{low:+.4f}, {high:+.4f}]"
    if any(v != v for v in (gain, low, high)):  # NaN: not measured in this run
        return None, f"{m}gain not measured in this run"
    if low > 0:
        return True, f"{shown}: the paired interval lies above 0"
    if high < 0:
        return False, f"{shown}: the paired interval lies below 0 (it hurts)"
    return None, f"{shown}: the paired interval contains 0, too close to call on this test set"
