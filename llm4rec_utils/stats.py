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


def bootstrap_auc_ci(
    labels, scores, groups, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of AUC, resampling *groups* (users) with replacement.

    Samples of one user are correlated, so resampling samples would understate the
    uncertainty; each bootstrap draw takes whole users and weights their samples by how often
    the user was drawn.
    """
    from sklearn.metrics import roc_auc_score

    y, s, g = (np.asarray(a) for a in (labels, scores, groups))
    if not (y.shape == s.shape == g.shape) or y.ndim != 1 or y.size == 0:
        raise ValueError("labels, scores and groups must be equal-length non-empty 1-D arrays")
    if len(np.unique(y)) < 2:
        raise ValueError("AUC needs both classes in the labels")
    uniq, inv = np.unique(g, return_inverse=True)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, uniq.size, uniq.size), minlength=uniq.size)
        w = counts[inv]
        keep = w > 0
        if len(np.unique(y[keep])) < 2:
            continue
        values.append(roc_auc_score(y[keep], s[keep], sample_weight=w[keep]))
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))
