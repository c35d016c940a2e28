"""Train/validation/test splits, each deterministic by seed and checked for leakage.

Every split returns a :class:`Split` and calls the leakage checks below before returning, so a
bug that puts a test interaction into training raises instead of inflating a metric.

Tie-break for time-ordered splits: MovieLens-100K records many ratings of one user in the same
second (76% of interactions share their user's timestamp with another), so "the last
interaction" is ambiguous. Among interactions with the same timestamp we order by a seeded
pseudo-random key of (user, item, seed) (:func:`tie_key`): deterministic for a given seed,
independent of file order, and, unlike ordering by item ID, not a pattern a model can learn
(with ``(timestamp, item_id)`` the test item would be the highest item ID of the user's last
burst, and a sequential model learns that). Every time-ordered function of the package
(:func:`leave_one_out_split`, :func:`time_split`,
:func:`llm4rec_utils.sequential.user_sequences`) uses the same key, so with the same seed they
agree on the order. The leakage check allows equal timestamps across the cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import ITEM_COL, TIMESTAMP_COL, USER_COL

# One name per protocol (split and candidate set), used by every notebook, test and anchor.
PROTOCOLS = {
    "random-80-20": "global random 80/20 of the interactions; all unseen items ranked",
    "msr-75-25": "per user, stratified random 75/25 (Microsoft Recommenders); all unseen ranked",
    "recbole-8-1-1": "per user, random 80/10/10 with RecBole's rounding; all unseen items ranked",
    "time-80-20": "the latest 20% of interactions are the test; users with history; all unseen",
    "loo-full": "leave-one-out by time (last item test, second-last valid); all unseen ranked",
    "loo-sampled-100": "the loo-full split; the target ranked among 100 sampled unseen items",
}
# Names these protocols had before they were unified; tests keep them out of the sources.
RETIRED_PROTOCOL_NAMES = ("recbole-811", "loo-time", "global-time", "tallrec-last1000")


class LeakageError(AssertionError):
    """An interaction (or its future) is visible to training."""


@dataclass
class Split:
    """One split of the interactions. ``valid`` is ``None`` for two-way splits."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    valid: pd.DataFrame | None = None

    def sizes(self) -> dict[str, int]:
        """Row counts per part."""
        out = {"train": len(self.train), "test": len(self.test)}
        if self.valid is not None:
            out["valid"] = len(self.valid)
        return out


# --------------------------------------------------------------------------- leakage checks


def check_disjoint(*parts: pd.DataFrame, user_col: str = USER_COL, item_col: str = ITEM_COL):
    """Raise :class:`LeakageError` if a (user, item) pair appears in two parts."""
    seen: dict[tuple, int] = {}
    for p, df in enumerate(parts):
        keys = pd.MultiIndex.from_frame(df[[user_col, item_col]])
        if keys.has_duplicates:
            raise LeakageError(f"part {p} holds the same (user, item) pair twice")
        for prev, prev_keys in seen.items():
            both = keys.intersection(prev_keys)
            if len(both):
                raise LeakageError(
                    f"{len(both)} (user, item) pairs are in both part {prev} and part {p}, "
                    f"e.g. {tuple(int(x) for x in both[0])}"
                )
        seen[p] = keys


def check_time_order(
    earlier: pd.DataFrame,
    later: pd.DataFrame,
    per_user: bool,
    *,
    user_col: str = USER_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> None:
    """Raise :class:`LeakageError` if ``earlier`` holds an interaction after one in ``later``.

    Args:
        per_user: compare within each user (leave-one-out) or globally (time cut).
    """
    if len(earlier) == 0 or len(later) == 0:
        return
    if not per_user:
        if earlier[timestamp_col].max() > later[timestamp_col].min():
            raise LeakageError(
                "training holds interactions later than the earliest test interaction "
                f"({earlier[timestamp_col].max()} > {later[timestamp_col].min()})"
            )
        return
    last = earlier.groupby(user_col)[timestamp_col].max()
    first = later.groupby(user_col)[timestamp_col].min()
    both = last.index.intersection(first.index)
    bad = both[(last[both] > first[both]).to_numpy()]
    if len(bad):
        raise LeakageError(f"{len(bad)} users have training interactions after their test ones")


def _finish(split: Split, time_order: str | None = None) -> Split:
    parts = [split.train] + ([split.valid] if split.valid is not None else []) + [split.test]
    check_disjoint(*parts)
    if time_order is not None:
        per_user = time_order == "per_user"
        for a, b in zip(parts, parts[1:], strict=False):
            check_time_order(a, b, per_user=per_user)
    return split


def tie_key(users, items, seed: int = 0) -> np.ndarray:
    """A pseudo-random uint64 per (user, item) pair, fixed by ``seed`` (a splitmix64 hash).

    Sorting by ``(timestamp, tie_key)`` puts same-second interactions in a random but
    reproducible order; because the key depends only on the pair and the seed, any subset of
    the data (a training part, one user's history) sorts its ties the same way.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    u = np.asarray(users, dtype=np.int64).astype(np.uint64)
    i = np.asarray(items, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (u << np.uint64(32)) ^ i ^ (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15))
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def time_sorted(
    df: pd.DataFrame,
    user_first: bool = True,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> pd.DataFrame:
    """``df`` ordered by time, ties broken by :func:`tie_key` (per user first if ``user_first``)."""
    key = pd.Series(tie_key(df[user_col], df[item_col], seed), index=df.index, name="_tie")
    keys = [user_col, timestamp_col, "_tie"] if user_first else [timestamp_col, "_tie"]
    order = df.assign(_tie=key).sort_values(keys, kind="stable").index
    return df.loc[order]


# --------------------------------------------------------------------------- splits


def random_split(
    df: pd.DataFrame,
    test_ratio: float = 0.2,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> Split:
    """Global random split: each interaction goes to test with probability ``test_ratio``.

    Users may end up with no training data (cold users in test); that is the point of showing it.
    """
    if not 0 < test_ratio < 1:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    n_test = int(round(test_ratio * len(df)))
    test = df.iloc[np.sort(order[:n_test])]
    train = df.iloc[np.sort(order[n_test:])]
    return _finish(Split("random-80-20", train.reset_index(drop=True), test.reset_index(drop=True)))


def _per_user_positions(
    df: pd.DataFrame, seed: int, user_col: str
) -> tuple[np.ndarray, np.ndarray]:
    """Random rank of each row within its user, and the user's row count."""
    rng = np.random.default_rng(seed)
    shuffled = pd.Series(rng.random(len(df)), index=df.index)
    pos = shuffled.groupby(df[user_col]).rank(method="first").to_numpy() - 1
    count = df.groupby(user_col)[user_col].transform("size").to_numpy()
    return pos, count


def stratified_split(
    df: pd.DataFrame,
    ratio: float = 0.75,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> Split:
    """Per-user random split: each user keeps ``ratio`` of their interactions for training.

    This is the Microsoft Recommenders protocol (``python_stratified_split``, 75/25): every user
    appears in both parts, so every user can be evaluated.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    pos, count = _per_user_positions(df, seed, user_col)
    n_train = np.maximum(1, np.round(ratio * count))
    in_train = pos < n_train
    return _finish(
        Split(
            "stratified",
            df[in_train].reset_index(drop=True),
            df[~in_train].reset_index(drop=True),
        )
    )


def recbole_split_counts(tot: int, ratios: Sequence[float]) -> list[int]:
    """Sizes of the parts RecBole cuts ``tot`` interactions into (RecBole 1.2's
    ``Dataset._calcu_split_ids``, recbole/data/dataset/dataset.py, returned as counts rather than
    cumulative cut points).

    Ratios are normalised by their sum, as RecBole's ``split_by_ratio`` does. Every part after
    the first is rounded *down* (``int(ratio * tot)``) and the first takes the rest; then, last
    part first, a part whose exact share is in (0, 1) gets one interaction taken from the first,
    as long as the first keeps more than one. So 3 interactions cut 8:1:1 give 1/1/1, 15 give
    13/1/1 and 20 give 16/2/2.
    """
    if isinstance(tot, bool) or not isinstance(tot, int | np.integer) or tot < 0:
        raise ValueError(f"tot must be a non-negative integer, got {tot!r}")
    tot_ratio = sum(ratios)
    ratios = [r / tot_ratio for r in ratios]
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


def per_user_ratio_split(
    df: pd.DataFrame,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> Split:
    """Per-user random train/valid/test by ratio: RecBole's ``order: RO``,
    ``split: {RS: [0.8, 0.1, 0.1]}``, ``group_by: user`` (our "recbole-8-1-1").

    Each user's interactions are put in a seeded random order (RecBole shuffles all
    interactions, then takes each user's in that order), and each user's count is cut with
    RecBole's rounding (:func:`recbole_split_counts`): validation and test rounded down, training
    takes the rest, and a user with 2 to 9 interactions still gets one test (and, from 3, one
    validation) interaction. The shuffle itself is ours (numpy, not torch), so the same seed
    does not pick the same interactions as RecBole; the part sizes are RecBole's.
    """
    if len(ratios) != 3 or min(ratios) <= 0 or abs(sum(ratios) - 1) > 1e-9:
        raise ValueError(f"ratios must be three positive numbers summing to 1, got {ratios}")
    pos, count = _per_user_positions(df, seed, user_col)
    sizes = {int(c): recbole_split_counts(int(c), ratios) for c in np.unique(count)}
    n_train = np.array([sizes[int(c)][0] for c in count])
    n_valid = np.array([sizes[int(c)][1] for c in count])
    part = np.where(pos < n_train, 0, np.where(pos < n_train + n_valid, 1, 2))
    return _finish(
        Split(
            "per_user_8_1_1",
            df[part == 0].reset_index(drop=True),
            df[part == 2].reset_index(drop=True),
            df[part == 1].reset_index(drop=True),
        )
    )


def leave_one_out_split(
    df: pd.DataFrame,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> Split:
    """Leave-one-out by time: each user's last interaction -> test, second last -> validation.

    Ordering is by timestamp, same-second ties by the seeded :func:`tie_key` (see the module
    docstring). Users with fewer than 3 interactions keep everything in training. The same seed
    gives the same split.
    """
    s = time_sorted(
        df, True, seed, user_col=user_col, item_col=item_col, timestamp_col=timestamp_col
    )
    from_end = s.groupby(user_col).cumcount(ascending=False).to_numpy()
    count = s.groupby(user_col)[user_col].transform("size").to_numpy()
    eligible = count >= 3
    test = s[eligible & (from_end == 0)]
    valid = s[eligible & (from_end == 1)]
    train = s[~eligible | (from_end >= 2)]
    split = Split(
        "leave_one_out",
        train.reset_index(drop=True),
        test.reset_index(drop=True),
        valid.reset_index(drop=True),
    )
    return _finish(split, time_order="per_user")


def time_split(
    df: pd.DataFrame,
    test_ratio: float = 0.2,
    valid_ratio: float = 0.0,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> Split:
    """Global time cut: the latest ``test_ratio`` of interactions -> test (and the
    ``valid_ratio`` before them -> validation). Models never see the future of any user.
    Interactions of the same second at the cut are ordered by the seeded :func:`tie_key`.
    """
    if not 0 < test_ratio < 1 or not 0 <= valid_ratio < 1 - test_ratio:
        raise ValueError(f"bad ratios test={test_ratio}, valid={valid_ratio}")
    s = time_sorted(
        df, False, seed, user_col=user_col, item_col=item_col, timestamp_col=timestamp_col
    )
    n = len(s)
    n_test = int(round(test_ratio * n))
    n_valid = int(round(valid_ratio * n))
    train = s.iloc[: n - n_test - n_valid]
    valid = s.iloc[n - n_test - n_valid : n - n_test] if valid_ratio > 0 else None
    test = s.iloc[n - n_test :]
    split = Split(
        "time",
        train.reset_index(drop=True),
        test.reset_index(drop=True),
        None if valid is None else valid.reset_index(drop=True),
    )
    return _finish(split, time_order="global")
