"""Evaluators: full ranking over the whole catalogue, and ranking among sampled negatives.

Both take a ``score_fn(user_indices) -> scores`` of shape (len(users), num_items) and frames
with *encoded* user and item indices (see :func:`llm4rec_utils.preprocess.encode_ids`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .constants import ITEM_COL, USER_COL
from .metrics import (
    RANKING_METRICS,
    _check_k,
    average_popularity,
    catalog_coverage,
    check_scores,
    novelty,
    scorer_name,
)
from .sampling import PositiveSet, sample_negatives

ScoreFn = Callable[[np.ndarray], np.ndarray]


def _as_scores(out) -> np.ndarray:
    if hasattr(out, "detach"):  # a torch tensor
        out = out.detach().float().cpu().numpy()
    return np.asarray(out, dtype=np.float64)


def _items_by_user(df: pd.DataFrame, user_col: str, item_col: str) -> dict[int, np.ndarray]:
    if len(df) == 0:
        return {}
    return {int(u): g.to_numpy() for u, g in df.groupby(user_col)[item_col]}


def top_k_items(
    scores: np.ndarray,
    k: int,
    exclude: Sequence[np.ndarray] | None = None,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first.

    Scores must not be NaN or +inf (``ValueError``: a NaN row would come back as a random
    list); ``-inf`` masks an item like ``exclude`` does. A row with fewer than ``k`` items above
    ``-inf`` ends with masked items in random order: they carry no ranking.

    Ties are broken in a seeded random order, drawn afresh for every row. Breaking them by item
    index instead would favour low indices, which in MovieLens are old, popular films: a scorer
    that gives many items the same score (zero similarity, an unseen item) would borrow
    popularity it did not earn. The same seed gives the same lists.

    Args:
        scores: shape (B, num_items).
        exclude: per row, item indices that must not be recommended (the user's history).
        seed: an int or a ``numpy.random.Generator`` (pass one generator across batches).

    Returns:
        Shape (B, min(k, num_items)).
    """
    k = _check_k(k)
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 2:
        raise ValueError(f"scores must have shape (B, num_items), got {s.shape}")
    check_scores(s, "top_k_items' scores")
    if exclude is not None:
        for r, items in enumerate(exclude):
            if items is not None and len(items):
                s[r, items] = -np.inf
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tie_key = rng.random(s.shape)
    k = min(k, s.shape[1])
    if k < s.shape[1]:  # only the k best (and their ties) need sorting
        kth = -np.partition(-s, k - 1, axis=1)[:, k - 1 : k]
        s = np.where(s >= kth, s, -np.inf)
    return np.lexsort((tie_key, -s), axis=1)[:, :k]


def evaluate_full_ranking(
    score_fn: ScoreFn,
    test: pd.DataFrame,
    exclude: Sequence[pd.DataFrame] = (),
    num_items: int | None = None,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] = ("precision", "recall", "hr", "ndcg", "map", "mrr"),
    item_counts: np.ndarray | None = None,
    num_users: int | None = None,
    batch_size: int = 1024,
    return_per_user: bool = False,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
):
    """Rank every item for each test user, masking the items in ``exclude`` (the user's whole
    known history: training, and validation when testing), and average the metrics over users.

    Args:
        score_fn: user indices (B,) -> scores (B, num_items), numpy or torch.
        test: the held-out (user, item) pairs; every pair is relevant.
        exclude: frames of pairs to mask before ranking.
        num_items: catalogue size (inferred from the scores if ``None``).
        ks: cut-offs.
        metrics: names from :data:`llm4rec_utils.metrics.RANKING_METRICS`.
        item_counts: training interaction count per item; adds coverage, novelty and ARP@K.
        num_users: training users, for novelty's ``p(i) = count / num_users`` (default: the
            number of test users).
        seed: seeds the random tie-break of :func:`top_k_items`.

    Returns:
        ``{"ndcg@10": ..., "hr@10": ..., ...}`` plus ``"users"`` (how many were evaluated). With
        ``return_per_user=True``, also a DataFrame with one row per evaluated user and one column
        per metric (for bootstrap intervals and per-group analysis).
    """
    unknown = set(metrics) - set(RANKING_METRICS)
    if unknown:
        raise ValueError(
            f"unknown metrics {sorted(unknown)}; choose from {sorted(RANKING_METRICS)}"
        )
    ks = [_check_k(k) for k in ks]
    relevant = _items_by_user(test, user_col, item_col)
    masked = [_items_by_user(df, user_col, item_col) for df in exclude]
    users = np.array(sorted(relevant), dtype=np.int64)
    if len(users) == 0:
        raise ValueError("the test frame is empty: nothing to evaluate")
    kmax = max(ks)
    per_user = {f"{m}@{k}": [] for k in ks for m in metrics}
    rec_lists = []
    rng = np.random.default_rng(seed)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = _as_scores(score_fn(batch))
        if num_items is not None and scores.shape[1] != num_items:
            raise ValueError(f"score_fn returned {scores.shape[1]} columns, expected {num_items}")
        _check_batch(scores, score_fn, batch)
        excl = [
            np.concatenate([m.get(int(u), np.empty(0, np.int64)) for m in masked]).astype(np.int64)
            if masked
            else None
            for u in batch
        ]
        top = top_k_items(scores, kmax, excl, seed=rng)
        for u, row in zip(batch, top, strict=True):
            rel = set(relevant[int(u)].tolist())
            ranked = row.tolist()
            rec_lists.append(ranked)
            for k in ks:
                for m in metrics:
                    per_user[f"{m}@{k}"].append(RANKING_METRICS[m](ranked, rel, k))
    out = {name: float(np.nanmean(vals)) for name, vals in per_user.items()}
    out["users"] = float(len(users))
    if item_counts is not None:
        n_items = num_items or len(item_counts)
        for k in ks:
            lists = [r[:k] for r in rec_lists]
            out[f"coverage@{k}"] = catalog_coverage(lists, n_items)
            out[f"novelty@{k}"] = novelty(lists, item_counts, num_users or len(users))
            out[f"arp@{k}"] = average_popularity(lists, item_counts)
    if return_per_user:
        return out, pd.DataFrame(per_user, index=pd.Index(users, name=user_col))
    return out


def _check_batch(scores: np.ndarray, score_fn, batch: np.ndarray) -> None:
    if scores.ndim != 2 or len(scores) != len(batch):
        raise ValueError(
            f"score_fn {scorer_name(score_fn)!r} returned shape {scores.shape} for "
            f"{len(batch)} users; expected ({len(batch)}, num_items)"
        )
    check_scores(scores, f"score_fn {scorer_name(score_fn)!r}", rows="users", row_ids=batch)


def validation_ndcg(
    score_fn: ScoreFn, valid: pd.DataFrame, exclude: Sequence[pd.DataFrame], k: int = 10
) -> float:
    """NDCG@k of ``score_fn`` on the validation pairs, full ranking, ``exclude`` masked: the
    number early stopping and model selection watch."""
    res = evaluate_full_ranking(score_fn, valid, exclude=exclude, ks=[k], metrics=["ndcg"])
    return res[f"ndcg@{k}"]


def evaluate_sampled(
    score_fn: ScoreFn,
    test: pd.DataFrame,
    known: Sequence[pd.DataFrame],
    num_items: int,
    n_negatives: int = 100,
    ks: Sequence[int] = (10,),
    strategy: str = "uniform",
    item_probs: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    return_per_pair: bool = False,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
):
    """Rank each test positive among ``n_negatives`` sampled items the user never interacted with.

    The common "HR@10 with 100 negatives" protocol: cheap, but it inflates numbers compared with
    full ranking (the negatives are mostly easy). Ties between the positive and a negative are
    broken at random with the seed, so a constant scorer gets a fair (not lucky) rank.

    Args:
        known: every frame of the user's interactions (train, valid, test): none is a negative.

    Returns:
        ``{"hr@10": ..., "ndcg@10": ..., "mrr": ..., "pairs": ...}``, averaged over test pairs.
        With ``return_per_pair=True``, also a DataFrame with one row per test pair (its user in
        ``user_col``) and ``hr@k``/``ndcg@k`` columns, for paired intervals.
    """
    ks = [_check_k(k) for k in ks]
    if len(test) == 0:
        raise ValueError("the test frame is empty: nothing to evaluate")
    all_known = pd.concat([df[[user_col, item_col]] for df in known], ignore_index=True)
    positives = PositiveSet(all_known[user_col], all_known[item_col], num_items)
    rng = np.random.default_rng(seed)
    users = test[user_col].to_numpy(np.int64)
    items = test[item_col].to_numpy(np.int64)
    negs = sample_negatives(users, positives, n_negatives, strategy, item_probs, rng)
    uniq = np.unique(users)
    row_of = {}
    for start in range(0, len(uniq), batch_size):
        batch = uniq[start : start + batch_size]
        scores = _as_scores(score_fn(batch))
        _check_batch(scores, score_fn, batch)
        for r, u in enumerate(batch):
            row_of[int(u)] = scores[r]
    pos_scores = np.array([row_of[int(u)][p] for u, p in zip(users, items, strict=True)])
    neg_scores = np.stack([row_of[int(u)][negs[j]] for j, u in enumerate(users)])
    ranks = candidate_ranks(pos_scores, neg_scores, rng)
    out = metrics_from_ranks(ranks, ks)
    out["pairs"] = float(len(users))
    if return_per_pair:
        per_pair = {user_col: users}
        for k in ks:
            per_pair[f"hr@{k}"] = (ranks <= k).astype(np.float64)
            per_pair[f"ndcg@{k}"] = ndcg_from_ranks(ranks, k)
        return out, pd.DataFrame(per_pair)
    return out


def candidate_ranks(
    pos_scores: np.ndarray, neg_scores: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """1-based rank of each positive among its negatives: pos_scores (n,), neg_scores (n, m).

    Ties are broken uniformly at random, so a constant scorer gets the expected rank of a
    random guess rather than rank 1. NaN or +inf scores raise ``ValueError`` (a NaN positive
    would rank first); ``-inf`` is allowed and ranks last."""
    pos = np.asarray(pos_scores, dtype=np.float64)
    neg = np.asarray(neg_scores, dtype=np.float64)
    if neg.ndim != 2 or pos.shape != (neg.shape[0],):
        raise ValueError(f"pos_scores (n,) and neg_scores (n, m) expected: {pos.shape} {neg.shape}")
    check_scores(np.column_stack([pos, neg]), "candidate_ranks' scores", rows="candidate rows")
    ties = (neg == pos[:, None]).sum(1)
    return 1 + (neg > pos[:, None]).sum(1) + rng.integers(0, ties + 1)


def ndcg_from_ranks(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-user NDCG@K with one relevant item at 1-based ``ranks``: ``1 / log2(rank + 1)`` in the
    top K, else 0."""
    ranks = np.asarray(ranks)
    return np.where(ranks <= _check_k(k), 1.0 / np.log2(ranks + 1), 0.0)


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = (10,)) -> dict[str, float]:
    """HR@K, NDCG@K (one relevant item: ``1 / log2(rank + 1)`` when in the top K) and MRR."""
    ranks = np.asarray(ranks)
    out = {}
    for k in ks:
        k = _check_k(k)
        hit = ranks <= k
        out[f"hr@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(ndcg_from_ranks(ranks, k).mean())
    out["mrr"] = float((1.0 / ranks).mean())
    return out
