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


def _user_bootstrap_aucs(labels, score_sets, groups, n_boot: int, seed: int) -> np.ndarray:
    """AUC of each score array on ``n_boot`` resamples of whole groups (users), the same
    resamples for every array. Returns (draws, len(score_sets)); draws with one class only are
    skipped."""
    from sklearn.metrics import roc_auc_score

    y, g = np.asarray(labels), np.asarray(groups)
    sets = [np.asarray(s) for s in score_sets]
    if any(s.shape != y.shape for s in sets) or y.shape != g.shape or y.ndim != 1 or y.size == 0:
        raise ValueError("labels, scores and groups must be equal-length non-empty 1-D arrays")
    if len(np.unique(y)) < 2:
        raise ValueError("AUC needs both classes in the labels")
    uniq, inv = np.unique(g, return_inverse=True)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, uniq.size, uniq.size), minlength=uniq.size)
        w = counts[inv]
        keep = w > 0
        if len(np.unique(y[keep])) < 2:
            continue
        rows.append([roc_auc_score(y[keep], s[keep], sample_weight=w[keep]) for s in sets])
    return np.array(rows)


def bootstrap_auc_ci(
    labels, scores, groups, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of AUC, resampling *groups* (users) with replacement.

    Samples of one user are correlated, so resampling samples would understate the
    uncertainty; each bootstrap draw takes whole users and weights their samples by how often
    the user was drawn.
    """
    values = _user_bootstrap_aucs(labels, [scores], groups, n_boot, seed)[:, 0]
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))


def bootstrap_auc_diff_ci(
    labels, scores_a, scores_b, groups, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Paired interval of ``AUC(a) - AUC(b)`` for two models scored on the *same* samples: both
    AUCs are computed on each resample of users, so what the users share cancels out. An
    interval that excludes 0 is a difference this test set can see; two overlapping
    per-model intervals do not show there is none."""
    values = _user_bootstrap_aucs(labels, [scores_a, scores_b], groups, n_boot, seed)
    diff = values[:, 0] - values[:, 1]
    return float(np.quantile(diff, alpha / 2)), float(np.quantile(diff, 1 - alpha / 2))
