"""Negative sampling that never returns a positive."""

from __future__ import annotations

import numpy as np


class PositiveSet:
    """Membership test for (user index, item index) pairs, vectorised.

    Pairs are coded as ``user * num_items + item`` and kept sorted, so checking a million
    candidates is one ``np.searchsorted``.
    """

    def __init__(self, users, items, num_items: int):
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        if len(items) and (items.min() < 0 or items.max() >= num_items):
            raise ValueError("item indices must lie in [0, num_items): encode IDs first")
        self.num_items = num_items
        self.codes = np.unique(users * num_items + items)
        self.count_per_user = np.bincount(users, minlength=1) if len(users) else np.zeros(1, int)

    def contains(self, users, items) -> np.ndarray:
        """Boolean array: is each (user, item) pair a positive?"""
        codes = np.asarray(users, dtype=np.int64) * self.num_items + np.asarray(items)
        idx = np.searchsorted(self.codes, codes)
        idx = np.minimum(idx, len(self.codes) - 1)
        return self.codes[idx] == codes if len(self.codes) else np.zeros(codes.shape, bool)

    def num_positives(self, user: int) -> int:
        return int(self.count_per_user[user]) if user < len(self.count_per_user) else 0


def item_sampling_probs(item_counts, alpha: float = 1.0) -> np.ndarray:
    """Popularity distribution ``p(i) ∝ count(i)^alpha`` (alpha=0.75 is word2vec's choice)."""
    c = np.asarray(item_counts, dtype=np.float64)
    if (c < 0).any() or c.sum() == 0:
        raise ValueError("item_counts must be non-negative and not all zero")
    w = c**alpha
    return w / w.sum()


def sample_negatives(
    users,
    positives: PositiveSet,
    n: int = 1,
    strategy: str = "uniform",
    item_probs: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
    max_rounds: int = 1000,
) -> np.ndarray:
    """Draw ``n`` negative items per entry of ``users``, none of them a positive of that user.

    Args:
        users: user indices, shape (B,).
        positives: the pairs that must never be returned (all of a user's known interactions).
        n: negatives per user entry.
        strategy: ``"uniform"`` over the catalogue or ``"popularity"`` (needs ``item_probs``).
        item_probs: sampling distribution over items for ``"popularity"``, shape (num_items,).
        seed: a seed or a ``np.random.Generator``.

    Returns:
        Item indices, shape (B, n). Negatives of one row may repeat (sampling with replacement).
    """
    if n <= 0:
        raise ValueError(f"n must be >= 1, got {n}")
    num_items = positives.num_items
    if strategy == "uniform":
        probs = None
    elif strategy == "popularity":
        if item_probs is None or len(item_probs) != num_items:
            raise ValueError("strategy='popularity' needs item_probs of length num_items")
        probs = np.asarray(item_probs, dtype=np.float64)
    else:
        raise ValueError(f"unknown strategy {strategy!r}: use 'uniform' or 'popularity'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    users = np.asarray(users, dtype=np.int64)
    for u in np.unique(users):
        if positives.num_positives(int(u)) >= num_items:
            raise ValueError(f"user {u} has interacted with every item: no negative exists")
    rows = np.repeat(users, n)
    out = rng.choice(num_items, size=len(rows), p=probs)
    bad = positives.contains(rows, out)
    for _ in range(max_rounds):
        if not bad.any():
            return out.reshape(len(users), n)
        out[bad] = rng.choice(num_items, size=int(bad.sum()), p=probs)
        bad[bad] = positives.contains(rows[bad], out[bad])
    raise RuntimeError(
        "negative sampling did not finish: some users have almost no non-positive items with "
        "non-zero probability"
    )
