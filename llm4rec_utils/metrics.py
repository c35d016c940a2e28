"""Recommendation metrics from first principles.

Ranking metrics take one user's ranked list of item IDs (best first) and the set of that user's
relevant items. Conventions, the same in every function:

* ``k`` must be a positive integer (``k <= 0`` raises ``ValueError``).
* A list shorter than ``k`` is used whole; precision still divides by ``k`` (as Microsoft
  Recommenders does), so short lists are not rewarded.
* A user with no relevant items has no defined score: the functions return ``nan`` and the
  evaluators leave such users out of the average.
* Relevance is binary.
* A ranked list must not name an item twice (``ValueError``): a list with duplicates could
  score above 1.
* Scores that rankings are built from (the evaluators, :func:`auc`) must not be NaN or +inf
  (:func:`check_scores` raises ``ValueError``): a NaN-scored positive would rank first and an
  all-NaN scorer would look perfect. ``-inf`` is allowed: it masks an item (a seen item, one
  outside a candidate set), which then ranks last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"K must be a positive integer, got {k!r}")
    return int(k)


def _hits(ranked: Sequence, relevant: set, k: int) -> np.ndarray:
    top = list(ranked)[: _check_k(k)]
    if len(set(top)) != len(top):
        dup = next(i for n, i in enumerate(top) if i in top[:n])
        raise ValueError(
            f"the ranked list names item {dup!r} more than once in its top {k}; "
            "a recommendation list must hold each item once (drop duplicates before scoring)"
        )
    return np.fromiter((item in relevant for item in top), dtype=bool)


def _relevant_or_none(relevant: Iterable, k) -> set | None:
    """The relevant set, or ``None`` (score undefined) when it is empty; ``k`` is checked either
    way, so a bad ``k`` never passes silently for a user without relevant items."""
    _check_k(k)
    relevant = set(relevant)
    return relevant or None


def scorer_name(fn) -> str:
    """A readable name of a score function (a lambda, a closure, a partial, a callable)."""
    fn = getattr(fn, "func", fn)  # functools.partial
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def check_scores(scores, where: str, rows: str = "rows", row_ids=None) -> np.ndarray:
    """``scores`` as a float array, if it holds no NaN and no +inf; else one ``ValueError``.

    Args:
        scores: shape (n,) or (n, m); a row is one element or one row.
        where: who produced the scores, for the message (``"score_fn 'bpr_fn'"``).
        rows: what a row is (``"users"``, ``"test pairs"``), for the message.
        row_ids: the id of each row (e.g. the user indices), to name the first bad ones.

    ``-inf`` passes: it is how a model masks an item, which then ranks last.
    """
    s = np.asarray(scores, dtype=np.float64)
    nan, pos_inf = np.isnan(s), np.isposinf(s)
    if not (nan.any() or pos_inf.any()):
        return s
    flat = (nan | pos_inf).reshape(s.shape[0], -1) if s.ndim else (nan | pos_inf).reshape(1, 1)
    bad_rows = np.flatnonzero(flat.any(1))
    ids = bad_rows if row_ids is None else np.asarray(row_ids)[bad_rows]
    raise ValueError(
        f"{where} gave NaN or +inf scores for {len(bad_rows)} of {flat.shape[0]} {rows} "
        f"({int(nan.sum())} NaN, {int(pos_inf.sum())} +inf values; first {rows}: "
        f"{ids[:5].tolist()}). Ranked as they are, they would make an arbitrary (or perfect) "
        "result. A NaN usually means a diverged model (lower the learning rate) or a missing "
        "value (0/0, e.g. the cosine of an all-zero vector): fix the scorer so it returns "
        "finite scores, and -inf for items it means to exclude."
    )


# --------------------------------------------------------------------------- rating / scores


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(
            f"y_true and y_pred must be non-empty and the same shape: {t.shape} {p.shape}"
        )
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    t, p = np.asarray(y_true, float), np.asarray(y_pred, float)
    if t.shape != p.shape or t.size == 0:
        raise ValueError(
            f"y_true and y_pred must be non-empty and the same shape: {t.shape} {p.shape}"
        )
    return float(np.mean(np.abs(t - p)))


def auc(y_true, y_score) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative).

    Computed from ranks (Mann-Whitney U); tied scores count one half.

    Raises:
        ValueError: lengths differ, a score is NaN or +inf, a label is not 0/1, or one class is
            missing.
    """
    from scipy.stats import rankdata

    labels = np.asarray(y_true)
    s = np.asarray(y_score, dtype=float)
    if labels.ndim != 1 or s.ndim != 1 or len(labels) != len(s):
        raise ValueError(
            f"y_true and y_score must be 1-D and of the same length, got shapes "
            f"{labels.shape} and {s.shape}"
        )
    check_scores(s, "auc's y_score", rows="scores")
    bad = ~np.isin(labels, [0, 1])
    if bad.any():
        raise ValueError(
            f"labels must be 0 or 1 (or booleans), got {labels[bad][:5].tolist()}; "
            "binarise them first, e.g. y = (rating >= 4)"
        )
    y = labels.astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative label")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --------------------------------------------------------------------------- ranking, one user


def precision_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """``|top-k ∩ relevant| / k``."""
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    return float(_hits(ranked, relevant, k).sum() / k)


def recall_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """``|top-k ∩ relevant| / |relevant|``."""
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    return float(_hits(ranked, relevant, k).sum() / len(relevant))


def hit_rate_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """1 if any relevant item is in the top k, else 0 (HR@K)."""
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    return float(_hits(ranked, relevant, k).any())


def ndcg_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """Binary-relevance NDCG@K.

    ``DCG = sum_{i=1..k} rel_i / log2(i + 1)``; ``IDCG`` is the DCG of ``min(|relevant|, k)``
    hits at the top.
    """
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    hits = _hits(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((hits * discounts[: len(hits)]).sum())
    idcg = float(discounts[: min(len(relevant), k)].sum())
    return dcg / idcg


def map_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """Average precision at K, normalised by ``min(|relevant|, k)``:

    ``AP@K = (1 / min(|relevant|, k)) * sum_{i=1..k} P@i * rel_i``

    This is the normalisation of Microsoft Recommenders' ``map_at_k`` (since PR #2004, after
    Spark MLlib's ``meanAveragePrecisionAt``) and of RecBole's ``MAP`` metric: a perfect top-k
    list scores 1 even for a user with more than ``k`` relevant items. Recommenders' ``map``
    without ``@k`` (and trec_eval's ``map_cut``) divide by ``|relevant|`` instead, which caps
    such a user below 1; that is not what this function computes. Averaged over users this is
    MAP@K.
    """
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    hits = _hits(ranked, relevant, k)
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precisions * hits).sum() / min(len(relevant), k))


def mrr_at_k(ranked: Sequence, relevant: Iterable, k: int) -> float:
    """Reciprocal rank of the first relevant item in the top k (0 if none)."""
    relevant = _relevant_or_none(relevant, k)
    if relevant is None:
        return math.nan
    hits = _hits(ranked, relevant, k)
    first = np.flatnonzero(hits)
    return float(1.0 / (first[0] + 1)) if len(first) else 0.0


# Names as recorded in results.json: "<name>@<k>", lower case.
RANKING_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "hr": hit_rate_at_k,
    "ndcg": ndcg_at_k,
    "map": map_at_k,
    "mrr": mrr_at_k,
}


# --------------------------------------------------------------------------- beyond accuracy


def catalog_coverage(rec_lists: Iterable[Sequence], num_items: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list."""
    if num_items <= 0:
        raise ValueError("num_items must be positive")
    shown = set()
    for rec in rec_lists:
        shown.update(rec)
    return len(shown) / num_items


def novelty(rec_lists: Iterable[Sequence], item_counts, num_users: int) -> float:
    """Mean self-information ``-log2(p(i))`` of recommended items, with ``p(i)`` the share of
    users who interacted with item ``i`` in training (``item_counts[i] / num_users``).

    Higher means less obvious items. An item never seen in training is counted as seen once.
    """
    counts = np.asarray(item_counts, dtype=float)
    items = np.fromiter((i for rec in rec_lists for i in rec), dtype=np.int64)
    if items.size == 0:
        raise ValueError("no recommendations given")
    p = np.maximum(counts[items], 1.0) / num_users
    return float(np.mean(-np.log2(p)))


def average_popularity(rec_lists: Iterable[Sequence], item_counts) -> float:
    """Popularity bias as average recommendation popularity (ARP): the mean training count of
    the recommended items. Compare with the catalogue's mean count to see the bias."""
    counts = np.asarray(item_counts, dtype=float)
    items = np.fromiter((i for rec in rec_lists for i in rec), dtype=np.int64)
    if items.size == 0:
        raise ValueError("no recommendations given")
    return float(counts[items].mean())


def head_items(item_counts, share: float = 0.1) -> np.ndarray:
    """The most popular ``share`` of the catalogue by training count (at least one item)."""
    counts = np.asarray(item_counts, dtype=float)
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    n = max(1, int(len(counts) * share))
    return np.argsort(-counts, kind="stable")[:n]


def popularity_bias(rec_lists: Iterable[Sequence], item_counts, share: float = 0.1) -> float:
    """Share of recommended items that belong to the head (the most popular ``share`` of the
    catalogue). Compare it with the head's share of the interactions: a recommender that
    matches the data recommends the head about as often as users use it. ARP
    (:func:`average_popularity`) measures the same bias on the count scale."""
    head = set(head_items(item_counts, share).tolist())
    items = [i for rec in rec_lists for i in rec]
    if not items:
        raise ValueError("no recommendations given")
    return float(np.mean([i in head for i in items]))


def gini(counts) -> float:
    """Gini coefficient of non-negative counts (e.g. how often each item was shown): 0 when
    every item gets the same exposure, approaching 1 when one item gets it all."""
    x = np.sort(np.asarray(counts, dtype=float))
    if x.size == 0 or (x < 0).any():
        raise ValueError("gini needs a non-empty array of non-negative counts")
    if x.sum() == 0:
        return 0.0
    n = x.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))
