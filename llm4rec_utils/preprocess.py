"""Turning raw interactions into model inputs: implicit feedback, k-core, ID maps and text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import (
    AGE_COL,
    GENDER_COL,
    GENRES_COL,
    ITEM_COL,
    OCCUPATION_COL,
    RATING_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)


def to_implicit(
    ratings: pd.DataFrame,
    threshold: float | None = 4.0,
    *,
    rating_col: str = RATING_COL,
) -> pd.DataFrame:
    """Keep the interactions that count as positive feedback.

    Args:
        ratings: explicit ratings.
        threshold: keep rows with ``rating >= threshold``; ``None`` keeps every row (any
            interaction is a positive, the usual choice for "did the user watch it").

    Returns:
        A copy with the kept rows and the rating column dropped.
    """
    if threshold is None:
        kept = ratings
    else:
        if rating_col not in ratings:
            raise KeyError(f"no column {rating_col!r}; pass rating_col= or threshold=None")
        kept = ratings[ratings[rating_col] >= threshold]
    return kept.drop(columns=[rating_col], errors="ignore").reset_index(drop=True)


def k_core_filter(
    df: pd.DataFrame,
    user_k: int = 5,
    item_k: int = 5,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    max_iter: int = 100,
) -> pd.DataFrame:
    """Repeatedly drop users with < ``user_k`` and items with < ``item_k`` interactions.

    Dropping items can push a user under the threshold and vice versa, so iterate to a fixed
    point: in the result every user has >= ``user_k`` and every item >= ``item_k`` rows.
    """
    if user_k < 1 or item_k < 1:
        raise ValueError(f"k must be >= 1, got user_k={user_k}, item_k={item_k}")
    out = df
    for _ in range(max_iter):
        u_counts = out[user_col].map(out[user_col].value_counts())
        i_counts = out[item_col].map(out[item_col].value_counts())
        keep = (u_counts >= user_k) & (i_counts >= item_k)
        if keep.all():
            return out.reset_index(drop=True)
        out = out[keep]
    raise RuntimeError(f"k-core did not converge in {max_iter} rounds")


@dataclass
class IdMap:
    """A bijection between raw IDs and contiguous indices ``0..n-1`` (what embeddings need)."""

    to_index: dict
    to_raw: np.ndarray

    @classmethod
    def fit(cls, raw_ids) -> IdMap:
        """Sorted unique raw IDs get indices in order (deterministic)."""
        uniq = np.sort(pd.unique(np.asarray(raw_ids)))
        return cls({r: i for i, r in enumerate(uniq.tolist())}, uniq)

    def __len__(self) -> int:
        return len(self.to_raw)

    def encode(self, raw_ids) -> np.ndarray:
        """Raw IDs -> indices; an unknown ID raises ``KeyError`` naming it."""
        raw = np.asarray(raw_ids).tolist()
        try:
            return np.fromiter((self.to_index[r] for r in raw), dtype=np.int64, count=len(raw))
        except KeyError as err:
            raise KeyError(
                f"unknown id {err.args[0]!r}: it was not in the data the map was fitted on"
            ) from None

    def decode(self, indices) -> np.ndarray:
        """Indices -> raw IDs."""
        return self.to_raw[np.asarray(indices)]


def encode_ids(
    df: pd.DataFrame,
    user_map: IdMap | None = None,
    item_map: IdMap | None = None,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> tuple[pd.DataFrame, IdMap, IdMap]:
    """Replace raw user and item IDs by indices, fitting the maps on ``df`` if not given."""
    user_map = user_map or IdMap.fit(df[user_col])
    item_map = item_map or IdMap.fit(df[item_col])
    out = df.copy()
    out[user_col] = user_map.encode(df[user_col])
    out[item_col] = item_map.encode(df[item_col])
    return out, user_map, item_map


def item_text(
    items: pd.DataFrame,
    *,
    title_col: str = TITLE_COL,
    year_col: str = YEAR_COL,
    genres_col: str = GENRES_COL,
) -> pd.Series:
    """One sentence per item, e.g. ``"Toy Story (1995). Genres: Animation, Children's, Comedy."``.

    The index of the result is the index of ``items``.
    """

    def one(row) -> str:
        year = "" if pd.isna(row[year_col]) else f" ({int(row[year_col])})"
        genres = [g for g in row[genres_col] if g != "unknown"]
        tail = f" Genres: {', '.join(genres)}." if genres else ""
        return f"{row[title_col]}{year}.{tail}"

    return items.apply(one, axis=1)


def demographics_text(users: pd.DataFrame, *, user_col: str = USER_COL) -> pd.Series:
    """Age, gender and occupation as words, indexed by user ID: ``"a 24-year-old male
    technician"``. These fields are fixed at sign-up, so they leak nothing about later ratings."""
    gender_word = {"M": "male", "F": "female"}
    missing = {user_col, AGE_COL, GENDER_COL, OCCUPATION_COL} - set(users.columns)
    if missing:
        raise ValueError(f"users table lacks {sorted(missing)}: pass MovieLens' u.user table")
    return pd.Series(
        {
            getattr(row, user_col): f"a {getattr(row, AGE_COL)}-year-old "
            f"{gender_word.get(getattr(row, GENDER_COL), 'person')} {getattr(row, OCCUPATION_COL)}"
            for row in users.itertuples(index=False)
        },
        name="demographics",
    )


def user_profile_text(
    users: pd.DataFrame,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    n_recent: int = 5,
    like_threshold: float = 4.0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    rating_col: str = RATING_COL,
    timestamp_col: str = TIMESTAMP_COL,
    title_col: str = TITLE_COL,
) -> pd.Series:
    """A textual user profile: demographics plus the most recently liked titles.

    Pass only *training* ratings: a profile built from test interactions leaks the answer.

    Returns:
        A Series indexed by user ID, e.g. ``"A 24-year-old male technician who recently liked:
        Toy Story, Heat, ..."``.
    """
    titles = items.set_index(item_col)[title_col]
    liked = ratings[ratings[rating_col] >= like_threshold]
    liked = liked.sort_values([user_col, timestamp_col, item_col])
    recent = liked.groupby(user_col)[item_col].apply(lambda s: list(s.iloc[-n_recent:][::-1]))
    who = demographics_text(users, user_col=user_col)
    out = {}
    for uid, text in who.items():
        liked_titles = [str(titles[i]) for i in recent.get(uid, [])]
        tail = f" who recently liked: {', '.join(liked_titles)}." if liked_titles else "."
        out[uid] = text[0].upper() + text[1:] + tail
    return pd.Series(out, name="profile_text")
