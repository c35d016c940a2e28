"""The TALLRec task as data: samples, honest features and prompts.

Bao et al. (2023), "TALLRec: An Effective and Efficient Tuning Framework to Align Large Language
Model with Recommendation". Each rating event becomes one sample: the user's previous
``history_len`` rated movies, split into liked (rating > 3) and disliked titles, a target title,
and the label "target rating > 3". Splitting is by time: a global cut, train before it, test
after it, so the model is always asked about the future.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .constants import (
    ITEM_COL,
    LABEL_COL,
    RATING_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
)
from .preprocess import demographics_text
from .splits import tie_key

HIST_ITEMS_COL = "hist_items"
HIST_RATINGS_COL = "hist_ratings"
SPLIT_COL = "split"
FEATURE_COLS = ("item_past_mean", "item_past_log_count", "user_hist_mean", "hist_like_share")


def shrunk_mean(total, count, mu: float, prior_weight: float = 5.0) -> np.ndarray:
    """An item's mean rating pulled towards the global mean ``mu``: ``(total + w·mu) /
    (count + w)``, as if ``w = prior_weight`` ratings of ``mu`` were added. An item without
    ratings gets ``mu``; one with many ratings keeps about its own mean."""
    total, count = np.asarray(total, dtype=float), np.asarray(count, dtype=float)
    denom = count + prior_weight
    return np.divide(
        total + prior_weight * mu, denom, out=np.full(np.shape(denom), float(mu)), where=denom > 0
    )


def build_tallrec_samples(
    ratings: pd.DataFrame,
    history_len: int = 10,
    like_threshold: float = 3.0,
    cut_quantile: float = 0.8,
    prior_weight: float = 5.0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    rating_col: str = RATING_COL,
    timestamp_col: str = TIMESTAMP_COL,
    seed: int = 0,
    ties: str = "seeded",
) -> tuple[pd.DataFrame, int]:
    """One sample per rating event that has ``history_len`` earlier events of the same user.

    Events are ordered by timestamp, and MovieLens' many same-second ties in a seeded random
    order (:func:`llm4rec_utils.splits.tie_key` of the (user, item) pair and ``seed``), as the
    splits break them: ordered by item ID, a history would list old, popular films (low IDs)
    before new ones in every tie, and which of the tied events becomes the target with which
    history would follow the ID too. ``ties="file"`` keeps tied events in the order of the
    ratings frame instead (TALLRec's rule: a stable sort of ``u.data`` by timestamp). The
    global cut is the ``cut_quantile`` of all event timestamps:
    events strictly before it are ``train``, the rest ``test``. A test sample's history may
    contain earlier test-period events of the same user (they happened before the target, so the
    user's past is known at prediction time), never the target itself.

    Features (no label leaks in):
      - ``item_past_mean``: the target item's mean rating over events before this one *and*
        before the cut (test samples see the training period only), shrunk to the global
        training mean with ``prior_weight`` pseudo-ratings, so an unseen item gets the mean;
      - ``item_past_log_count``: ``log1p`` of that number of past ratings (popularity);
      - ``user_hist_mean`` and ``hist_like_share``: from the history shown in the prompt.

    Returns:
        (samples, cut timestamp). Columns: user, item, rating, timestamp, ``label`` (0/1),
        ``hist_items`` and ``hist_ratings`` (tuples, oldest first), ``split``, the features,
        ordered by time.
    """
    if history_len <= 0:
        raise ValueError(f"history_len must be positive, got {history_len}")
    if prior_weight < 0:
        raise ValueError(f"prior_weight must be >= 0, got {prior_weight}")
    if not 0.0 < cut_quantile < 1.0:
        raise ValueError(f"cut_quantile must be in (0, 1), got {cut_quantile}")
    missing = {user_col, item_col, rating_col, timestamp_col} - set(ratings.columns)
    if missing:
        raise KeyError(f"ratings lacks columns {sorted(missing)}; pass the *_col keywords")
    if ties == "seeded":
        tie = tie_key(ratings[user_col].to_numpy(), ratings[item_col].to_numpy(), seed)
    elif ties == "file":
        tie = np.arange(len(ratings))
    else:
        raise ValueError(f'ties must be "seeded" or "file", got {ties!r}')
    order = np.lexsort((tie, ratings[timestamp_col].to_numpy()))  # time, then the tie-break
    ev = ratings.iloc[order].reset_index(drop=True)
    cut = int(np.quantile(ev[timestamp_col].to_numpy(), cut_quantile))
    is_train = (ev[timestamp_col] < cut).to_numpy()
    r = ev[rating_col].to_numpy(np.float64)
    mu = float(r[is_train].mean())

    # Item statistics over earlier training events: an exclusive running sum in time order of
    # the training ratings. Every training event precedes every test event, so for a test event
    # the running sum already holds the item's whole training period (frozen at the cut).
    train_r = np.where(is_train, r, 0.0)
    by_item = ev[item_col]
    past_sum = pd.Series(train_r).groupby(by_item).cumsum().to_numpy() - train_r
    past_cnt = pd.Series(is_train.astype(np.int64)).groupby(by_item).cumsum().to_numpy() - is_train
    item_mean = shrunk_mean(past_sum, past_cnt, mu, prior_weight)

    rows = []
    users = ev[user_col].to_numpy()
    items = ev[item_col].to_numpy()
    order = np.argsort(users, kind="stable")  # per user, time order kept
    bounds = np.flatnonzero(np.diff(users[order])) + 1
    for idx in np.split(order, bounds):
        if len(idx) <= history_len:
            continue
        it, rt = items[idx], r[idx]
        for j in range(history_len, len(idx)):
            e = idx[j]
            rows.append((e, tuple(it[j - history_len : j]), tuple(rt[j - history_len : j])))
    e_idx = np.array([row[0] for row in rows], dtype=np.int64)
    out = ev.iloc[e_idx].copy()
    out[LABEL_COL] = (out[rating_col] > like_threshold).astype(np.int64)
    out[HIST_ITEMS_COL] = [row[1] for row in rows]
    out[HIST_RATINGS_COL] = [row[2] for row in rows]
    out[SPLIT_COL] = np.where(is_train[e_idx], "train", "test")
    hist_r = np.array([row[2] for row in rows], dtype=np.float64)
    out["item_past_mean"] = item_mean[e_idx]
    out["item_past_log_count"] = np.log1p(past_cnt[e_idx])
    out["user_hist_mean"] = hist_r.mean(axis=1)
    out["hist_like_share"] = (hist_r > like_threshold).mean(axis=1)
    out = out.sort_index().reset_index(drop=True)
    return out, cut


def movie_titles(
    items: pd.DataFrame,
    with_year: bool = True,
    *,
    item_col: str = ITEM_COL,
    title_col: str = TITLE_COL,
    year_col: str = YEAR_COL,
) -> dict[int, str]:
    """Item ID -> ``"Title (year)"`` (no year where unknown or ``with_year=False``)."""
    out = {}
    for row in items.itertuples(index=False):
        year = getattr(row, year_col)
        tail = "" if pd.isna(year) or not with_year else f" ({int(year)})"
        out[int(getattr(row, item_col))] = f"{getattr(row, title_col)}{tail}"
    return out


def tallrec_prompt(
    hist_items,
    hist_ratings,
    target: int,
    titles: dict[int, str],
    like_threshold: float = 3.0,
    signals: dict[str, float] | None = None,
    hist_titles: dict[int, str] | None = None,
    question: str = "Will the user like {title}?",
    profile: str | None = None,
) -> str:
    """TALLRec's instruction input as one text; ``question`` names the target (``{title}``).

    ``hist_titles`` (default ``titles``) names the history items: shorter names there (e.g.
    without the year) cut the prompt's length, and the cost of every forward pass with it.

    ``signals`` (optional) adds the statistics the feature baseline uses, written as words and
    numbers, so a language model can read what logistic regression sees.

    ``profile`` (optional, e.g. "a 24-year-old male technician") ends the text as "The user is
    ...": last, so that left truncation of a long prompt cuts old history, never the profile.
    """
    names = titles if hist_titles is None else hist_titles
    pairs = list(zip(hist_items, hist_ratings, strict=True))
    liked = [names[int(i)] for i, r in pairs if r > like_threshold]
    disliked = [names[int(i)] for i, r in pairs if r <= like_threshold]
    text = (
        f"User liked: {', '.join(liked) or 'none'}. "
        f"User disliked: {', '.join(disliked) or 'none'}. "
        + question.format(title=titles[int(target)])
    )
    if signals:
        text += (
            f" Movie average {signals['item_past_mean']:.1f}"
            f" from {int(round(np.expm1(signals['item_past_log_count'])))} ratings;"
            f" user average {signals['user_hist_mean']:.1f}."
        )
    if profile:
        text += f" The user is {profile}."
    return text


def tallrec_prompts(
    samples: pd.DataFrame,
    titles: dict[int, str],
    like_threshold: float = 3.0,
    with_signals: bool = False,
    hist_titles: dict[int, str] | None = None,
    question: str = "Will the user like {title}?",
    profiles: dict | pd.Series | None = None,
    *,
    item_col: str = ITEM_COL,
    user_col: str = USER_COL,
) -> list[str]:
    """:func:`tallrec_prompt` for every row of ``samples``; ``profiles`` maps user ID to the
    profile text (every user of ``samples`` needs one)."""
    feats = samples[list(FEATURE_COLS)].to_dict("records") if with_signals else None
    who = None
    if profiles is not None:
        missing = set(samples[user_col]) - set(profiles.keys())
        if missing:
            raise ValueError(f"{len(missing)} users have no profile text, e.g. {min(missing)}")
        who = [profiles[u] for u in samples[user_col]]
    return [
        tallrec_prompt(
            h,
            r,
            t,
            titles,
            like_threshold,
            feats[k] if with_signals else None,
            hist_titles,
            question,
            who[k] if who is not None else None,
        )
        for k, (h, r, t) in enumerate(
            zip(samples[HIST_ITEMS_COL], samples[HIST_RATINGS_COL], samples[item_col], strict=True)
        )
    ]


def prompt_maker(items: pd.DataFrame, with_signals: bool = True, users: pd.DataFrame | None = None):
    """The prompt function notebooks 04 and 08 share: ``make_prompts(frame, signals=...,
    profile=False)``; ``profile=True`` ends each prompt with the user's demographics (needs
    ``users``, MovieLens' user table).

    The target is named with its year ("Toy Story (1995)"), history items without it (shorter
    prompts; the year of a watched film says little about the user). ``signals`` adds the
    sentence of item and user statistics (:data:`FEATURE_COLS`).
    """
    titles = movie_titles(items)
    short_titles = movie_titles(items, with_year=False)

    who = demographics_text(users) if users is not None else None

    def make_prompts(
        frame: pd.DataFrame, signals: bool = with_signals, profile: bool = False
    ) -> list[str]:
        if profile and who is None:
            raise ValueError("profile=True needs the users table: prompt_maker(items, users=...)")
        return tallrec_prompts(
            frame,
            titles,
            with_signals=signals,
            hist_titles=short_titles,
            profiles=who if profile else None,
        )

    return make_prompts


def tallrec_sizes(profile: str) -> dict[str, int]:
    """The language-model sample counts of the TALLRec task per profile: ``train`` and ``val``
    (drawn from the training period) and ``test`` (a sample of the test period). Notebooks 02
    and 04 both call :func:`split_tallrec` with these and the same seed, so their models are
    scored on the same test samples. (MiniLM trains at about 15-25 samples/s on a 2-core CPU:
    these counts set 04's time budget.)"""
    from .repro import by_profile

    return {
        "train": by_profile(profile, smoke=48, full=2000, gpu=20000),
        "val": by_profile(profile, smoke=32, full=400, gpu=2000),
        "test": by_profile(profile, smoke=200, full=2500, gpu=18070),
    }


def tallrec_split(
    ratings: pd.DataFrame,
    history_len: int = 10,
    keep: int = 10_000,
    shares: tuple[float, float] = (0.8, 0.1),
    *,
    user_col: str = USER_COL,
    **sample_kwargs,
) -> dict[str, pd.DataFrame]:
    """TALLRec's own MovieLens split, rebuilt from the rule of its ``preprocess_movie.py``.

    Samples are listed user by user, users in order of first appearance in the ratings file
    (pass ``ratings`` in ``u.data`` order, as :func:`llm4rec_utils.data.load_movielens_100k`
    returns it), each user's samples in time order with ties in file order; the last ``keep``
    samples of that list are kept and cut by position into train, valid and test at ``shares``
    (TALLRec: 80/10/10, so 8,000 / 1,000 / 1,000). The test part is therefore the last users'
    latest samples, a handful of users, and not a cut in time: its samples can be older than
    training samples of other users. The frames carry :func:`build_tallrec_samples`' columns
    (features from the global time cut of ``sample_kwargs``, so only earlier events) and
    ``tallrec_pos``, the position in TALLRec's list.
    """
    if keep <= 0:
        raise ValueError(f"keep must be positive, got {keep}")
    if not (0 < shares[0] and 0 <= shares[1] and sum(shares) < 1):
        raise ValueError(f"shares (train, valid) must be positive and sum below 1, got {shares}")
    samples, _ = build_tallrec_samples(
        ratings, history_len, user_col=user_col, ties="file", **sample_kwargs
    )
    first_seen = {u: i for i, u in enumerate(pd.unique(ratings[user_col]))}
    rank = samples[user_col].map(first_seen)
    listed = samples.assign(_rank=rank).sort_values("_rank", kind="stable")
    kept = listed.tail(keep).drop(columns="_rank").reset_index(drop=True)
    kept["tallrec_pos"] = np.arange(len(kept))
    a, b = int(len(kept) * shares[0]), int(len(kept) * (shares[0] + shares[1]))
    return {"train": kept.iloc[:a], "valid": kept.iloc[a:b], "test": kept.iloc[b:]}


def split_tallrec(
    samples: pd.DataFrame,
    n_train: int,
    n_val: int,
    n_test: int,
    valid_share: float = 0.1,
    seed: int = 0,
    *,
    split_col: str = SPLIT_COL,
) -> dict[str, pd.DataFrame]:
    """The language-model subsets of :func:`build_tallrec_samples`' time split.

    The last ``valid_share`` of the training period validates; ``train`` is a random sample
    of ``n_train`` from the rest, ``val`` of ``n_val`` from the validation period, ``test`` of
    ``n_test`` from the test period (uniform, so its AUC estimates the whole test period's).
    Returns the frames ``train_all``, ``test_all``, ``train_pool``, ``valid_pool``, ``train``,
    ``val`` and ``test``; the same arguments give the same samples in every notebook.
    """
    if min(n_train, n_val, n_test) <= 0:
        raise ValueError(f"sample counts must be positive: {n_train}, {n_val}, {n_test}")
    train_all = samples[samples[split_col] == "train"]
    test_all = samples[samples[split_col] == "test"]
    if len(train_all) == 0 or len(test_all) == 0:
        raise ValueError("the samples need both a train and a test period")
    valid_pool = train_all.tail(int(len(train_all) * valid_share))
    train_pool = train_all.head(len(train_all) - len(valid_pool))

    def draw(frame, n):
        return frame.sample(min(n, len(frame)), random_state=seed)

    return {
        "train_all": train_all,
        "test_all": test_all,
        "train_pool": train_pool,
        "valid_pool": valid_pool,
        "train": draw(train_pool, n_train),
        "val": draw(valid_pool, n_val),
        "test": draw(test_all, n_test),
    }
