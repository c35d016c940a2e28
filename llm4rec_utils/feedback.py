"""A feedback loop that retrains: a recommender shows slates, simulated users answer from their
held-out ratings, the answers become training data, the recommender is refitted, and so on.

The simulated user clicks a shown item if and only if they rated it at least
``like_threshold`` in the held-out part of the data. Items they never rated count as not
clicked: an offline simulation cannot know what a user would have thought of a film they did
not see, so it under-counts clicks on obscure items (state this beside its numbers).

- Chaney, Stewart and Engelhardt (2018), "How Algorithmic Confounding in Recommendation
  Systems Increases Homogeneity and Decreases Utility".
- Jiang et al. (2019), "Degenerate Feedback Loops in Recommender Systems".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from .evaluate import top_k_items
from .metrics import average_popularity, gini, head_items
from .progress import tqdm

ScoreFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LoopConfig:
    rounds: int = 10
    slate: int = 10  # items shown to each user per round
    explore: int = 0  # of which this many are random unseen items (exploration)
    retrain: bool = True  # refit on the grown data every round (False: fit once, at round 0)
    fresh_slates: bool = False  # True: never show an item twice; False: unclicked items may return
    like_threshold: float = 4.0  # a held-out rating this high is a click

    def __post_init__(self):
        if self.rounds < 1 or self.slate < 1 or not 0 <= self.explore <= self.slate:
            raise ValueError("need rounds >= 1, slate >= 1 and 0 <= explore <= slate")


def _as_sets(frame: pd.DataFrame, users: np.ndarray) -> list[set]:
    groups = frame.groupby(USER_COL)[ITEM_COL].apply(set)
    return [set(groups.get(u, set())) for u in users]


def simulate_feedback_loop(
    fit: Callable[[pd.DataFrame], ScoreFn],
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    num_items: int,
    cfg: LoopConfig,
    seed: int = 0,
    progress: bool = True,
    desc: str = "feedback loop",
) -> pd.DataFrame:
    """Run the loop; one row per round with what the users were shown and what they did.

    ``fit(interactions)`` returns a score function ``users -> (len(users), num_items)``. Each
    round every user with a held-out like gets a slate of ``cfg.slate`` items they have not
    consumed (nor, with ``fresh_slates``, been shown before). Clicks are added to the
    interactions (with their held-out rating). Exposure measures use the *initial* training
    counts, so rounds compare:

    ``precision`` (clicks per slate item), ``recall_cum`` (share of held-out likes found so far),
    ``coverage`` (share of the catalogue shown to anyone this round), ``head_share`` (share of
    slate items from the initial top 10% by count), ``arp`` (their mean initial count),
    ``exposure_gini`` (inequality of how often items were shown this round) and
    ``clicked_head_share`` (share of this round's clicks that went to the head).
    """
    for name, frame in [("train", train), ("heldout", heldout)]:
        missing = {USER_COL, ITEM_COL, RATING_COL} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} lacks columns {sorted(missing)}")
    rng = np.random.default_rng(seed)
    liked_frame = heldout[heldout[RATING_COL] >= cfg.like_threshold]
    users = np.sort(liked_frame[USER_COL].unique())
    if users.size == 0:
        raise ValueError(f"no held-out rating reaches like_threshold={cfg.like_threshold}")
    liked = _as_sets(liked_frame, users)
    rating_of = heldout.set_index([USER_COL, ITEM_COL])[RATING_COL].to_dict()
    consumed = _as_sets(train, users)
    shown = [set() for _ in users]
    counts0 = np.bincount(train[ITEM_COL].to_numpy(), minlength=num_items)
    head = set(head_items(counts0, 0.1).tolist())
    data, rows, score_fn = train.copy(), [], None
    n_liked, found = sum(len(s) for s in liked), 0
    exploit = cfg.slate - cfg.explore
    t0 = int(train[TIMESTAMP_COL].max()) + 1 if TIMESTAMP_COL in train else 0
    for rnd in tqdm(range(1, cfg.rounds + 1), desc=desc, disable=not progress):
        if score_fn is None or cfg.retrain:
            score_fn = fit(data)
        exclude = [
            np.fromiter(c | s if cfg.fresh_slates else c, dtype=np.int64)
            for c, s in zip(consumed, shown, strict=True)
        ]
        top = top_k_items(score_fn(users), exploit, exclude=exclude, seed=rng) if exploit else None
        slates, new = [], []
        for k, u in enumerate(users):
            slate = [int(i) for i in top[k]] if top is not None else []
            if cfg.explore:
                blocked = consumed[k] | set(slate) | (shown[k] if cfg.fresh_slates else set())
                pool = np.setdiff1d(np.arange(num_items), np.fromiter(blocked, dtype=np.int64))
                slate += rng.choice(pool, min(cfg.explore, pool.size), replace=False).tolist()
            shown[k].update(slate)
            clicks = [i for i in slate if i in liked[k]]
            consumed[k].update(clicks)
            new += [(u, i, rating_of[(u, i)], t0 + rnd) for i in clicks]
            slates.append(slate)
        found += len(new)
        exposure = np.bincount(np.concatenate(slates), minlength=num_items)
        clicked = [i for _, i, _, _ in new]
        rows.append(
            {
                "round": rnd,
                "precision": len(new) / sum(len(s) for s in slates),
                "recall_cum": found / n_liked,
                "coverage": float((exposure > 0).mean()),
                "head_share": float(np.mean([i in head for s in slates for i in s])),
                "arp": average_popularity(slates, counts0),
                "exposure_gini": gini(exposure),
                "clicked_head_share": float(np.mean([i in head for i in clicked]))
                if clicked
                else float("nan"),
                "clicks": len(new),
            }
        )
        if new:
            cols = [USER_COL, ITEM_COL, RATING_COL, TIMESTAMP_COL]
            data = pd.concat([data, pd.DataFrame(new, columns=cols)], ignore_index=True)
    return pd.DataFrame(rows).set_index("round")
