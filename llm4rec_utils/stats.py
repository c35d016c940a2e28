"""Uncertainty of offline metrics: bootstrap intervals over users and a paired comparison."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(
    values, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-user ``values`` (users resampled with
    replacement). Returns (low, high) for a ``1 - alpha`` interval."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_bootstrap_pvalue(a, b, n_boot: int = 2000, seed: int = 0) -> float:
    """Two-sided p-value for "mean(a) = mean(b)" from per-user paired values: bootstrap the
    per-user differences, centred under the null."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError("a and b must be equal-length 1-D arrays of per-user values")
    rng = np.random.default_rng(seed)
    observed = d.mean()
    centred = d - observed
    boot = centred[rng.integers(0, d.size, (n_boot, d.size))].mean(axis=1)
    return float((np.abs(boot) >= abs(observed)).mean())
