"""The verdict engine: every claim a notebook judges is decided here, from data, by one rule.

A claim (registered in :mod:`llm4rec_utils.claims`) has a *kind*:

- ``superiority``: "A beats B". The interval of the paired difference A − B (oriented so that
  positive favours the claim) lies above 0: supported; below 0: not supported; contains 0:
  undecided.
- ``non-inferiority``: "A is not worse than B by more than δ". Lower bound above −δ: supported;
  upper bound below −δ: not supported; otherwise undecided.
- ``equivalence``: "A matches B within ±δ". The whole interval inside ±δ: supported; wholly
  outside: not supported; otherwise undecided.
- ``property``: a measured quantity equals what a formula or a reference says (within a stated
  tolerance), or lies on the claimed side of a threshold with its whole interval.

A tie (an interval that contains the decision point) is always "undecided".

Intervals come from the *paired* difference on the same units wherever the two sides were
measured on the same users or samples: :func:`paired_diff` (per-user values, users bootstrapped),
:func:`auc_diff` (AUC, users bootstrapped with their samples) and :func:`ratio_ci` (timings,
alternating repeats). Given several training seeds (arrays with a leading seed axis) the
bootstrap resamples seeds and users together, so the interval holds both sources of variation.
Unpaired intervals are used only where the units differ, and the verdict says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

VERDICTS = ("supported", "not supported", "undecided")
KINDS = ("superiority", "non-inferiority", "equivalence", "property")


@dataclass(frozen=True)
class Evidence:
    """An effect and its 95% interval, with how it was obtained."""

    effect: float  # the difference (or ratio, or measured value) the verdict is about
    ci_low: float
    ci_high: float
    test: str  # e.g. "paired user bootstrap of NDCG@10 difference"
    units: int  # users (or samples, or timing repeats) the interval resamples
    seeds: int = 1  # training seeds behind it
    seed_spread: float | None = None  # std of the effect between seeds, when seeds > 1
    paired: bool = True
    expected: float | None = None  # an equality property: the value a formula/reference gives
    tol: float = 0.0  # ... and the tolerance it is checked to
    threshold: float | None = None  # a threshold property: effect = value − threshold


@dataclass
class Verdict:
    """A decided claim, as recorded in ``results.json`` (``claims``)."""

    id: str
    article: str
    notebook: str
    section: str
    statement: str
    kind: str
    verdict: str
    effect: float
    ci_low: float
    ci_high: float
    margin: float | None
    test: str
    units: int
    seeds: int
    note: str = ""
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        out = asdict(self)
        out.update(out.pop("extra"))
        return out

    def __repr__(self) -> str:  # a notebook cell ending in judge(...) shows the verdict line
        return self.line()

    def line(self) -> str:
        """The Summary's line: ``[supported] statement: effect [low, high] (test; seeds)``."""
        return f"[{self.verdict}] {self.statement} — {describe(self)}"


def _num(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:+.2e}"
    return f"{v:+.4f}" if a < 10 else f"{v:+,.1f}"


def effect_text(v: Verdict) -> str:
    """The effect and its interval as a reader wants them (a property: the measured value
    against its threshold or expected value)."""
    x = v.extra
    point = v.ci_low == v.ci_high
    if x.get("expected") is not None:
        tol = x.get("tol") or 0
        shown = f"measured {v.effect:.6g}, expected {x['expected']:.6g}"
        shown += f" (to {tol:g})" if tol else ""
    elif x.get("threshold") is not None:
        t = x["threshold"]
        sign = -1 if x.get("lower_is_better") else 1
        value = t + sign * v.effect
        low, high = sorted((t + sign * v.ci_low, t + sign * v.ci_high))
        shown = f"{value:.4g}" if point else f"{value:.4g} [{low:.4g}, {high:.4g}]"
        shown += f" against the threshold {t:.4g}"
    else:
        shown = (
            _num(v.effect) if point else f"{_num(v.effect)} [{_num(v.ci_low)}, {_num(v.ci_high)}]"
        )
    return shown


def describe(v: Verdict) -> str:
    """Effect, interval, test and seeds in words."""
    x = v.extra
    parts = [effect_text(v)]
    if v.margin is not None:
        parts.append(f"margin ±{v.margin:g}" if v.kind == "equivalence" else f"margin {v.margin:g}")
    text = ", ".join(parts) + f" ({v.test}; n = {v.units:,}"
    if v.seeds > 1:
        text += f"; {v.seeds} training seeds"
    elif x.get("recipe"):
        text += "; one training seed"
    text += ")"
    return f"{text}. {v.note}" if v.note else text


def decide(kind: str, low: float, high: float, margin: float | None = None) -> str:
    """The rule, on an interval already oriented so that positive favours the claim.

    >>> decide("superiority", 0.01, 0.05), decide("superiority", -0.01, 0.05)
    ('supported', 'undecided')
    >>> decide("equivalence", -0.02, 0.03, margin=0.05), decide("non-inferiority", -0.2, -0.1, 0.05)
    ('supported', 'not supported')
    """
    if kind not in KINDS:
        raise ValueError(f"unknown claim kind {kind!r}; use one of {KINDS}")
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return "undecided"
    if low > high:
        raise ValueError(f"interval [{low}, {high}] has its bounds swapped")
    if kind in ("superiority", "property"):
        return "supported" if low > 0 else "not supported" if high < 0 else "undecided"
    if margin is None or not margin > 0:
        raise ValueError(f"a {kind} claim needs a positive margin, got {margin!r}")
    if kind == "non-inferiority":
        return "supported" if low > -margin else "not supported" if high < -margin else "undecided"
    if -margin < low and high < margin:
        return "supported"
    return "not supported" if (low > margin or high < -margin) else "undecided"


# ------------------------------------------------------------------------------- intervals


def _as_seed_user(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError("per-unit values must be 1-D (units) or 2-D (seeds x units), non-empty")
    return a


def paired_diff(
    a, b, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0, test: str = ""
) -> Evidence:
    """Interval of mean(a − b) over the same units (users), a percentile bootstrap.

    ``a`` and ``b`` are per-unit values, either 1-D (one training run each) or 2-D with a
    leading seed axis (S, U): then each draw resamples seeds *and* users, so the interval holds
    the between-seed spread as well as the between-user one. NaN units (not measured on one
    side) are dropped on both.
    """
    da = _as_seed_user(a)
    db = _as_seed_user(b)
    if da.shape[1] != db.shape[1]:
        raise ValueError(f"a and b must cover the same units: {da.shape[1]} vs {db.shape[1]}")
    if db.shape[0] == 1 and da.shape[0] > 1:
        db = np.repeat(db, da.shape[0], axis=0)  # a fixed baseline (no training randomness)
    if da.shape[0] == 1 and db.shape[0] > 1:
        da = np.repeat(da, db.shape[0], axis=0)
    if da.shape != db.shape:
        raise ValueError(f"a and b need the same seeds: {da.shape} vs {db.shape}")
    d = da - db
    d = d[:, ~np.isnan(d).any(axis=0)]
    if d.shape[1] == 0:
        raise ValueError("no unit measured on both sides")
    rng = np.random.default_rng(seed)
    n_seeds, n_units = d.shape
    users = rng.integers(0, n_units, (n_boot, n_units))
    if n_seeds == 1:
        draws = d[0][users].mean(axis=1)
    else:
        seeds = rng.integers(0, n_seeds, (n_boot, n_seeds))
        per_seed_user = np.stack(
            [d[seeds[:, s]][np.arange(n_boot)[:, None], users] for s in range(n_seeds)], axis=1
        )  # (boot, S, U)
        draws = per_seed_user.mean(axis=(1, 2))
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    spread = float(d.mean(axis=1).std(ddof=1)) if n_seeds > 1 else None
    return Evidence(
        float(d.mean()),
        float(low),
        float(high),
        test or "paired bootstrap over users",
        n_units,
        n_seeds,
        spread,
    )


def bootstrap_stat(
    stat: Callable[..., float],
    *arrays,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    test: str = "paired bootstrap over users",
) -> Evidence:
    """Interval of any statistic of per-unit arrays measured on the same units (e.g. the
    difference of two ratios of means), resampling the units of all arrays together."""
    cols = [np.asarray(a, dtype=np.float64) for a in arrays]
    n = cols[0].shape[0]
    if n == 0 or any(c.shape[0] != n for c in cols):
        raise ValueError("the arrays must be non-empty and cover the same units")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        draws.append(stat(*(c[idx] for c in cols)))
    low, high = np.nanquantile(draws, [alpha / 2, 1 - alpha / 2])
    return Evidence(float(stat(*cols)), float(low), float(high), test, n)


def auc_diff(
    labels,
    scores_a,
    scores_b,
    groups,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    test: str = "",
) -> Evidence:
    """Interval of AUC(a) − AUC(b) on the same samples, resampling users with their samples.

    ``scores_a``/``scores_b`` may carry a leading seed axis (S, N): each draw then also
    resamples seeds, and the AUC difference is averaged over the drawn seeds.
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels)
    g = np.asarray(groups)
    sa, sb = _as_seed_user(scores_a), _as_seed_user(scores_b)
    if sb.shape[0] == 1 and sa.shape[0] > 1:
        sb = np.repeat(sb, sa.shape[0], axis=0)
    if sa.shape[0] == 1 and sb.shape[0] > 1:
        sa = np.repeat(sa, sb.shape[0], axis=0)
    if sa.shape != sb.shape or sa.shape[1] != y.size or g.shape != y.shape:
        raise ValueError("labels, groups and both score arrays must cover the same samples")
    if len(np.unique(y)) < 2:
        raise ValueError("AUC needs both classes in the labels")
    n_seeds = sa.shape[0]
    per_seed = np.array([roc_auc_score(y, sa[s]) - roc_auc_score(y, sb[s]) for s in range(n_seeds)])
    uniq, inv = np.unique(g, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, uniq.size, uniq.size), minlength=uniq.size)[inv]
        keep = w > 0
        if len(np.unique(y[keep])) < 2:
            continue
        chosen = rng.integers(0, n_seeds, n_seeds) if n_seeds > 1 else [0]
        draws.append(
            np.mean(
                [
                    roc_auc_score(y[keep], sa[s][keep], sample_weight=w[keep])
                    - roc_auc_score(y[keep], sb[s][keep], sample_weight=w[keep])
                    for s in chosen
                ]
            )
        )
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    spread = float(per_seed.std(ddof=1)) if n_seeds > 1 else None
    return Evidence(
        float(per_seed.mean()),
        float(low),
        float(high),
        test or "paired user bootstrap of the AUC difference",
        int(uniq.size),
        n_seeds,
        spread,
    )


def unpaired_diff(a, b, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> Evidence:
    """Interval of mean(a) − mean(b) for two *different* sets of units (resampled apart)."""
    va = np.asarray(a, dtype=np.float64)
    vb = np.asarray(b, dtype=np.float64)
    va, vb = va[~np.isnan(va)], vb[~np.isnan(vb)]
    rng = np.random.default_rng(seed)
    draws = va[rng.integers(0, va.size, (n_boot, va.size))].mean(1) - vb[
        rng.integers(0, vb.size, (n_boot, vb.size))
    ].mean(1)
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Evidence(
        float(va.mean() - vb.mean()),
        float(low),
        float(high),
        "unpaired bootstrap (different units on each side)",
        int(va.size + vb.size),
        paired=False,
    )


def from_intervals(a: float, ci_a, b: float, ci_b, test: str, units: int) -> Evidence:
    """``a − b`` from two *separately* measured values and their 95% intervals (a normal
    approximation: half-widths add in quadrature). Only where no per-unit values of both sides
    exist in one place; the verdict says it is unpaired."""
    half = math.hypot((ci_a[1] - ci_a[0]) / 2, (ci_b[1] - ci_b[0]) / 2)
    d = float(a - b)
    return Evidence(d, d - half, d + half, test, units, paired=False)


def time_alternating(
    fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int = 10, warmup: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Wall times of ``fn_a`` and ``fn_b`` called alternately (a, b, b, a, ...), so drift in the
    machine's speed hits both; ``warmup`` untimed calls of each first."""
    if repeats < 10:
        raise ValueError(f"a timing claim needs at least 10 repeats, got {repeats}")
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for i in range(repeats):
        order = ((fn_a, ta), (fn_b, tb)) if i % 2 == 0 else ((fn_b, tb), (fn_a, ta))
        for fn, out in order:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return np.array(ta), np.array(tb)


def ratio_ci(slow, fast, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> Evidence:
    """Speed-up ``median(slow) / median(fast)`` with a bootstrap interval over repeats; the
    effect and bounds are reported on the log scale's back-transform minus 1, i.e. the claim
    "fast is faster" is supported when the whole interval of (ratio − 1) lies above 0."""
    s, f = np.asarray(slow, dtype=np.float64), np.asarray(fast, dtype=np.float64)
    if s.size < 10 or f.size < 10:
        raise ValueError("a timing claim needs at least 10 repeats on each side")
    rng = np.random.default_rng(seed)
    draws = np.median(s[rng.integers(0, s.size, (n_boot, s.size))], axis=1) / np.median(
        f[rng.integers(0, f.size, (n_boot, f.size))], axis=1
    )
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    ratio = float(np.median(s) / np.median(f))
    return Evidence(
        ratio - 1,
        float(low) - 1,
        float(high) - 1,
        "speed-up − 1, bootstrap of median times over alternating repeats",
        int(min(s.size, f.size)),
    )


def exceeds(
    value: float, threshold: float, test: str, units: int = 1, ci: tuple[float, float] | None = None
) -> Evidence:
    """``value − threshold`` (with ``value``'s interval when it has one): a property claim
    "the value is above the threshold" is supported when the whole interval is."""
    low, high = ci if ci is not None else (value, value)
    return Evidence(
        float(value - threshold),
        float(low - threshold),
        float(high - threshold),
        test,
        units,
        threshold=float(threshold),
    )


def equals(
    measured: float, expected: float, test: str, tol: float = 0.0, units: int = 1
) -> Evidence:
    """An equality property: ``measured`` agrees with ``expected`` to ``tol``."""
    return Evidence(
        float(measured),
        float(measured),
        float(measured),
        test,
        units,
        expected=float(expected),
        tol=float(tol),
    )


# ------------------------------------------------------------------------------- selection


def select_on_validation(validation: dict[str, float], higher_is_better: bool = True) -> str:
    """The name with the best *validation* score; ties go to the first listed. The test set is
    then used once, to confirm the chosen one."""
    if not validation:
        raise ValueError("nothing to select from")
    bad = [k for k, v in validation.items() if v is None or not math.isfinite(v)]
    if bad:
        raise ValueError(f"validation scores missing or not finite for {bad}")
    pick = max if higher_is_better else min
    return pick(validation, key=validation.get)


def inside_grid(grid: Sequence, chosen) -> bool:
    """True when ``chosen`` is not at either edge of an ordered ``grid`` (a winner at the edge
    means the grid should be widened)."""
    grid = list(grid)
    return len(grid) >= 3 and chosen in grid[1:-1]
