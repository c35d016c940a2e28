"""Recorded results: the one way notebooks add metrics to ``results.json``.

Schema (written by the runner, appended to by notebooks)::

    {"provenance": {"commit", "date", "python", "torch", "device", "profile", "seed"},
     "notebooks": {"<name>": {"status", "wall_s", "peak_rss_mb"}},
     "metrics": [{"notebook", "model", "protocol", "metric", "value", "profile", "seed",
                  ...extra}]}

Additive: readers ignore keys they do not know. A file that is not such an object (empty, not
JSON, a list, rows without the required keys) raises :class:`BadInput` naming it and the fix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path

from .cli import BadInput, OneLineParser, fail, one_line
from .files import atomic_write_bytes

REQUIRED_KEYS = ("notebook", "model", "protocol", "metric", "value")
# extra fields that are part of a row's identity: a few-shot curve records one AUC per
# ``shots``, a feedback loop one value per ``round``
KEY_EXTRAS = ("shots", "round")


def _row_key(row: dict) -> tuple:
    return tuple(row[k] for k in REQUIRED_KEYS[:4]) + tuple(row.get(k) for k in KEY_EXTRAS)


def empty_results() -> dict:
    return {"provenance": {}, "notebooks": {}, "metrics": []}


def read_results(path: str | os.PathLike, must_exist: bool = False) -> dict:
    """Load ``results.json``, or an empty structure if it does not exist yet (``must_exist``:
    a missing file is an error too). A file that is not a results.json (a folder, empty, not
    JSON, not an object, rows without the required keys) raises :class:`BadInput` naming it
    and the fix."""
    path = Path(path)
    fix = "fix it, or delete it (a run writes a new one)"
    if path.is_dir():
        raise BadInput(f"{path} is a folder, not a results.json: give the results.json inside it")
    if not path.exists():
        if must_exist:
            raise BadInput(f"{path}: no such file; give the results.json a run wrote")
        return empty_results()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"cannot read {path} as text ({one_line(err)}): {fix}") from None
    if not text.strip():
        raise BadInput(f"{path} is empty, not a results.json: {fix}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInput(
            f"{path} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}): {fix}"
        ) from None
    if not isinstance(data, dict):
        raise BadInput(
            f"{path} holds a JSON {type(data).__name__}, not a results.json object "
            f"(provenance, notebooks, metrics): {fix}"
        )
    for key, default in empty_results().items():
        data.setdefault(key, default)
        if not isinstance(data[key], type(default)):
            raise BadInput(f"{path}: {key!r} is not a JSON {type(default).__name__}: {fix}")
    for i, row in enumerate(data["metrics"]):
        missing = [k for k in REQUIRED_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            raise BadInput(
                f"{path}: metrics row {i} lacks {', '.join(missing)} (every row has "
                f"{', '.join(REQUIRED_KEYS)}): {fix}"
            )
    return data


@contextlib.contextmanager
def locked(path: str | os.PathLike):
    """Hold an exclusive lock on ``results.json`` (through ``results.json.lock``) for a
    read-modify-write, so notebooks running in parallel never lose each other's rows."""
    from filelock import FileLock  # portable (fcntl does not exist on Windows)

    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_path)):
        yield


def write_results(path: str | os.PathLike, data: dict) -> None:
    """Write ``results.json`` atomically (a crash never leaves half a file)."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_jsonable)
    atomic_write_bytes(Path(path), text.encode())


def _jsonable(x):
    if hasattr(x, "item"):  # numpy / torch scalars
        return x.item()
    raise TypeError(f"cannot store {type(x).__name__} in results.json")


def record_metric(
    results_path: str | os.PathLike | None,
    notebook: str,
    model: str,
    protocol: str,
    metric: str,
    value: float,
    **extra,
) -> dict:
    """Add (or replace) one metric in ``results.json``.

    A row is identified by (notebook, model, protocol, metric) and the ``KEY_EXTRAS`` it has
    (``shots``, ``round``): recording it again replaces the old value, so re-running a notebook
    never duplicates rows.

    Args:
        results_path: the ``RESULTS_PATH`` parameter; ``None`` or ``""`` only returns the row.
        extra: anything else worth keeping (k, n, seconds, confidence interval, ...).

    Returns:
        The row as stored.
    """
    value = float(value.item() if hasattr(value, "item") else value)
    if math.isnan(value):
        raise ValueError(f"refusing to record NaN for {model}/{protocol}/{metric}")
    if math.isinf(value):
        raise ValueError(f"refusing to record {value} for {model}/{protocol}/{metric}")
    row = {
        "notebook": notebook,
        "model": model,
        "protocol": protocol,
        "metric": metric,
        "value": value,
        **extra,
    }
    for k, v in _run_settings().items():
        row.setdefault(k, v)
    if not results_path:
        return row
    with locked(results_path):
        data = read_results(results_path)
        check_same_run(results_path, data, row)
        key = _row_key(row)
        data["metrics"] = [m for m in data["metrics"] if _row_key(m) != key]
        data["metrics"].append(row)
        write_results(results_path, data)
    return row


RUN_KEYS = ("profile", "seed")  # a row's run settings; one results.json holds one run's


def _run_settings() -> dict:
    """The ``profile`` and ``seed`` of the notebook recording a row: its ``PROFILE`` and
    ``SEED`` parameters, found in the globals of the nearest calling frame that has both (a
    notebook's namespace, whether papermill or a person runs it). Empty when none has them."""
    frame = sys._getframe(1)
    for _ in range(50):
        frame = frame.f_back
        if frame is None:
            break
        g = frame.f_globals
        if g.get("__name__") == __name__ or "PROFILE" not in g or "SEED" not in g:
            continue
        profile, seed = g["PROFILE"], g["SEED"]
        if isinstance(profile, str) and isinstance(seed, int | float) and seed == int(seed):
            return {"profile": profile, "seed": int(seed)}
        break
    return {}


def check_same_run(results_path, data: dict, row: dict) -> None:
    """Refuse (``BadInput``, one line) a row whose ``profile``/``seed`` differ from the run
    that wrote ``results.json`` (its provenance, else its first row that carries them): a
    notebook run by hand with other settings must not mix its numbers into that run's."""
    prov = data.get("provenance") or {}
    ref = {k: prov[k] for k in RUN_KEYS if k in prov}
    if not ref:
        first = next((m for m in data["metrics"] if any(k in m for k in RUN_KEYS)), {})
        ref = {k: first[k] for k in RUN_KEYS if k in first}
    clash = [k for k in RUN_KEYS if k in ref and k in row and str(ref[k]) != str(row[k])]
    if clash:
        have = " ".join(f"{k.upper()}={ref[k]!r}" for k in RUN_KEYS if k in ref)
        want = " ".join(f"{k.upper()}={row[k]!r}" for k in RUN_KEYS if k in row)
        raise BadInput(
            f"{results_path} holds a {have} run and this notebook runs {want}: refusing to mix "
            f"them; run it with the same PROFILE and SEED, set RESULTS_PATH to another file, or "
            f"delete {results_path}"
        )


def metrics_frame(results: dict | str | os.PathLike):
    """The ``metrics`` list as a DataFrame (for tables and plots)."""
    import pandas as pd

    data = results if isinstance(results, dict) else read_results(results)
    return pd.DataFrame(data["metrics"], columns=None)


def get_metric(
    results: dict, notebook: str, model: str, protocol: str, metric: str, **key_extras
) -> float:
    """Look one recorded value up; ``KeyError`` naming it if it is missing. Rows with a
    ``KEY_EXTRAS`` field (e.g. ``shots``) match only when it is passed: ``shots=16``."""
    unknown = set(key_extras) - set(KEY_EXTRAS)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not key fields; use {KEY_EXTRAS}")
    want = (notebook, model, protocol, metric) + tuple(key_extras.get(k) for k in KEY_EXTRAS)
    for m in results["metrics"]:
        if _row_key(m) == want:
            return m["value"]
    raise KeyError(f"no metric recorded for {' / '.join(str(w) for w in want if w is not None)}")


def _key_extras(row: dict) -> str:
    """``"shots=16"`` for a row with key extras, ``""`` otherwise."""
    return ", ".join(f"{k}={row[k]}" for k in KEY_EXTRAS if k in row)


def _fmt(v: float) -> str:
    if v != v:  # NaN: a metric this row does not have
        return ""
    if math.isinf(v):  # refused by record_metric; an older or hand-made file may hold one
        return "inf" if v > 0 else "-inf"
    if v == int(v):
        return f"{v:,.0f}"
    if abs(v) < 1e-3:  # e.g. the cost of a million dot products: keep its digits
        return f"{v:.3g}"
    return f"{v:.4f}" if abs(v) < 1000 else f"{v:.4g}"


def md_cell(x) -> str:
    """A value as a Markdown table cell: a ``|`` in it (a model named ``a|b``) is escaped
    so it cannot split the row, and a newline cannot end it."""
    return " ".join(str(x).split()).replace("|", "\\|")


# What a leaderboard ranks: quality metrics of models. Dataset statistics, split sizes, p-values,
# few-shot curve points and cost columns are recorded too, but are not a model's score.
MAIN_METRICS = ("ndcg@10", "auc", "hr@10", "hr@1", "rmse", "cumulative_reward")
LOWER_IS_BETTER = ("rmse", "mae")
NOT_MODELS = ("dataset", "loo-split", "attention-by-hand", "attention-cost")
# 08 re-scores 04's fine-tuned models on the same task: shown, but labelled as such
RESCORED = {"08_compute_and_cost": "re-scored in 08"}


def leaderboard_tables(results: dict) -> dict[str, list[str]]:
    """One Markdown table per protocol: a row per (model, notebook), quality metrics only,
    sorted by the protocol's main metric (the first of :data:`MAIN_METRICS` it has), best
    first. Rows without a model score (dataset statistics, few-shot points, p-values) and
    protocols with no quality metric are left out."""
    boards: dict[str, dict] = {}
    for m in results.get("metrics", []):
        if m["model"] in NOT_MODELS or _key_extras(m) or "p_value" in m["metric"]:
            continue
        if m["metric"] not in MAIN_METRICS and not m["metric"].startswith(MAIN_METRICS):
            continue  # cost and bookkeeping columns live in the notebooks' own tables
        board = boards.setdefault(m["protocol"], {"rows": {}, "metrics": []})
        model = m["model"] + (f" ({RESCORED[m['notebook']]})" if m["notebook"] in RESCORED else "")
        board["rows"].setdefault((model, m["notebook"]), {})[m["metric"]] = m["value"]
        if m["metric"] not in board["metrics"]:
            board["metrics"].append(m["metric"])
    out = {}
    for protocol, board in boards.items():
        main = next((c for c in MAIN_METRICS if c in board["metrics"]), None)
        if main is None:
            continue
        cols = [main] + [c for c in board["metrics"] if c != main]
        sign = 1 if main in LOWER_IS_BETTER else -1
        rows = sorted(board["rows"].items(),
                      key=lambda kv: (main not in kv[1], sign * kv[1].get(main, 0.0)))
        lines = [
            "| model | notebook | " + " | ".join(md_cell(c) for c in cols) + " |",
            "| --- | --- | " + " | ".join("---:" for _ in cols) + " |",
        ]
        for (model, notebook), vals in rows:
            cells = [_fmt(vals.get(c, float("nan"))) for c in cols]
            lines.append(f"| {md_cell(model)} | {md_cell(notebook)} | " + " | ".join(cells) + " |")
        out[protocol] = lines
    return out


def results_table(results: dict) -> str:
    """``RESULTS.md``: provenance, per-notebook status/time/memory, one leaderboard per
    protocol, and every metric as a flat list."""
    prov = results.get("provenance", {})
    lines = [
        "# llm4rec results",
        "",
        "Generated by `python -m llm4rec_utils.tooling.runner`; do not edit.",
        "",
    ]
    lines += [f"- **{md_cell(k)}**: {md_cell(v)}" for k, v in prov.items()]
    from .frontpage import anchors_markdown, claims_markdown

    lines += ["", "## Claims: what this run found", "", *claims_markdown(results)]
    lines += ["", "## Published numbers beside this run's", "", *anchors_markdown(results)]
    lines += [
        "",
        "## Notebooks",
        "",
        "| notebook | status | wall (s) | peak RSS (MB) |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, nb in sorted(results.get("notebooks", {}).items()):
        lines.append(
            f"| {md_cell(name)} | {md_cell(nb.get('status'))} | "
            f"{_num(nb.get('wall_s'), '.1f')} | {_num(nb.get('peak_rss_mb'), '.0f')} |"
        )
    walls = [nb.get("wall_s") or 0.0 for nb in results.get("notebooks", {}).values()]
    if walls:
        lines.append(f"| **total** | | {sum(walls):.1f} | |")
    lines += ["", "## Leaderboards (one per protocol)", ""]
    for protocol, table in leaderboard_tables(results).items():
        lines += [f"### {protocol}", "", *table, ""]
    lines += [
        "## Every recorded metric",
        "",
        "| notebook | model | protocol | metric | value |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for m in results.get("metrics", []):
        extras = _key_extras(m)
        metric = f"{m['metric']} ({extras})" if extras else m["metric"]
        cells = [m["notebook"], m["model"], m["protocol"], metric]
        lines.append("| " + " | ".join(map(md_cell, cells)) + f" | {_fmt(m['value'])} |")
    return "\n".join(lines) + "\n"


def _num(v, spec: str) -> str:
    """A number for a table cell; blank where it was not measured (``None``)."""
    return "" if v is None else format(v, spec)


# metrics that measure the machine, not the model: they move with load and hardware
COST_METRICS = (
    "train_wall_s",
    "encode_wall_s",
    "train_epoch_s",
    "latency_ms_b1",
    "throughput_b256",
    "peak_mb",
    "cost_per_million",
    "speedup",
    "time_loglog_slope",
)


def compare_runs(before: dict | str | os.PathLike, after: dict | str | os.PathLike):
    """Every metric recorded in both runs, side by side. A metric with a recorded 95% interval
    (``<metric>_ci_low`` / ``_ci_high`` in ``before``) gets ``within``: whether the ``after``
    value lies inside that interval; the others get ``within`` = None. Intervals and costs (see
    :data:`COST_METRICS`) are not compared themselves. Columns: notebook, model, protocol,
    metric, key (the key extras), before, after, ci_low, ci_high, within."""
    import pandas as pd

    rows = {}
    for tag, res in [("before", before), ("after", after)]:
        data = res if isinstance(res, dict) else read_results(res, must_exist=True)
        for m in data["metrics"]:
            rows.setdefault(_row_key(m), {})[tag] = m["value"]
    out = []
    for key, vals in rows.items():
        nb, model, protocol, metric, *extras = key
        if metric.endswith(("_ci_low", "_ci_high")) or metric in COST_METRICS:
            continue
        if "before" not in vals or "after" not in vals:
            continue
        low = rows.get((nb, model, protocol, f"{metric}_ci_low", *extras), {}).get("before")
        high = rows.get((nb, model, protocol, f"{metric}_ci_high", *extras), {}).get("before")
        within = None if low is None or high is None else bool(low <= vals["after"] <= high)
        extra = ", ".join(
            f"{k}={v}" for k, v in zip(KEY_EXTRAS, extras, strict=True) if v is not None
        )
        out.append(
            dict(
                notebook=nb,
                model=model,
                protocol=protocol,
                metric=metric,
                key=extra,
                before=vals["before"],
                after=vals["after"],
                ci_low=low,
                ci_high=high,
                within=within,
            )
        )
    columns = "notebook model protocol metric key before after ci_low ci_high within".split()
    return pd.DataFrame(out, columns=columns)


def _main(argv=None) -> int:
    prog = "python -m llm4rec_utils.tooling.results"
    ap = OneLineParser(
        prog=prog,
        description="compare two runs' results.json: is every metric with an interval in it?",
    )
    ap.add_argument("before")
    ap.add_argument("after")
    args = ap.parse_args(argv)
    try:
        table = compare_runs(args.before, args.after)
    except BadInput as err:
        return fail(prog, err)
    if table.empty:
        return fail(
            prog,
            f"{args.before} and {args.after} have no metric in common: compare two runs of the "
            "same notebooks (a run records its metrics in its build folder's results.json)",
        )
    with_ci = table[table["within"].notna()]
    print(
        f"{len(table)} metrics in both runs; {len(with_ci)} have a 95% interval in the first, "
        f"{int(with_ci['within'].sum())} of them lie inside it in the second"
    )
    outside = with_ci[~with_ci["within"].astype(bool)]
    if len(outside):
        print("outside their interval:")
        print(outside.drop(columns="within").to_string(index=False))
    return 0


def results_html(markdown_text: str) -> str:
    """``RESULTS.html``: the Markdown report rendered (mistune, which nbconvert ships)."""
    import mistune

    body = mistune.create_markdown(plugins=["table"])(markdown_text)
    style = (
        "body{font-family:sans-serif;max-width:75em;margin:2em auto}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:2px 8px}td{text-align:right}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>llm4rec results</title>"
        f"<style>{style}</style></head><body>{body}</body></html>"
    )


if __name__ == "__main__":
    raise SystemExit(_main())
