"""The LLMRank protocol: a language model ranks 20 candidates from a history of titles.

Hou et al., "Large Language Models are Zero-Shot Rankers for Recommender Systems", ECIR 2024.
A user's history is written as an ordered list of titles; the candidates are the true next item
and items the user never interacted with; the model is asked to order the candidates. This
module builds the candidate sets and prompts, parses free-text answers back into rankings and
measures the protocol's known biases. The models that answer live in :mod:`llm_backends`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import ITEM_COL, USER_COL
from .evaluate import metrics_from_ranks


def build_candidates(
    test: pd.DataFrame,
    known: Sequence[pd.DataFrame],
    num_items: int,
    n_negatives: int = 19,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> np.ndarray:
    """Candidate sets: each test row's item in column 0, then ``n_negatives`` items the user
    never interacted with in any of ``known`` (train, valid and test), drawn without
    replacement. Returns (len(test), 1 + n_negatives) item indices."""
    seen = pd.concat(list(known)).groupby(user_col)[item_col].apply(set)
    rng = np.random.default_rng(seed)
    rows = []
    for user, item in zip(test[user_col].to_numpy(), test[item_col].to_numpy(), strict=True):
        pool = np.setdiff1d(np.arange(num_items), np.fromiter(seen.get(user, set()), int))
        if len(pool) < n_negatives:
            raise ValueError(f"user {user} has only {len(pool)} unseen items for {n_negatives}")
        rows.append(np.concatenate([[item], rng.choice(pool, n_negatives, replace=False)]))
    return np.array(rows, dtype=np.int64)


def random_floor(n_candidates: int = 20, k: int = 10) -> dict[str, float]:
    """What a uniformly random order scores: HR@1 = 1/n, NDCG@k = sum_{r<=k} 1/log2(r+1) / n."""
    ranks = np.arange(1, n_candidates + 1)
    return {
        "hr@1": 1.0 / n_candidates,
        f"ndcg@{k}": float((ranks <= k) @ (1.0 / np.log2(ranks + 1)) / n_candidates),
        "mrr": float((1.0 / ranks).mean()),
    }


def rank_prompt(
    history: Sequence[str],
    candidates: Sequence[str],
    *,
    recent_first: bool = True,
    max_history: int = 20,
    profile: str | None = None,
    examples: Sequence[tuple[Sequence[str], Sequence[str], Sequence[str]]] = (),
) -> str:
    """The ranking instruction for one user.

    Args:
        history: titles the user watched, oldest first; the last ``max_history`` are kept.
        candidates: the candidate titles in the order the model will see them.
        recent_first: list the history newest first (LLMRank found that models attend to the
            first items they read; putting the recent ones there helps).
        profile: an optional sentence about the user, written before the history.
        examples: few-shot demonstrations, each (history, candidates, answer titles in order).
    """
    parts = [
        _one_prompt(h, c, recent_first, max_history, None)
        + "\nAnswer:\n"
        + "\n".join(f"{i}. {t}" for i, t in enumerate(a, 1))
        for h, c, a in examples
    ]
    parts.append(_one_prompt(history, candidates, recent_first, max_history, profile) + "\nAnswer:")
    return "\n\n".join(parts)


def _one_prompt(history, candidates, recent_first, max_history, profile) -> str:
    hist = list(history)[-max_history:]
    if recent_first:
        hist = hist[::-1]
    order = "most recent first" if recent_first else "in no particular order"
    lines = [profile] if profile else []
    lines.append(f"I watched these movies ({order}):")
    lines += [f"- {t}" for t in hist]
    lines.append(
        f"Rank these {len(candidates)} candidate movies by how likely I am to watch "
        "each one next, most likely first. Answer with the titles only, one per line, "
        "each candidate exactly once, and no other movies:"
    )
    lines += [f"- {t}" for t in candidates]
    return "\n".join(lines)


_NUMBERING = re.compile(r"^\s*(?:\d+\s*[.):\]]|[-*•]|\[\d+\])\s*")
_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|il|das|der|die|el)$")


def normalize_title(title: str) -> str:
    """Lower case, a trailing year and punctuation dropped, "Usual Suspects, The" -> "the usual
    suspects", so that an answer's wording can be matched to the catalogue."""
    t = re.sub(r"\(\s*\d{4}\s*\)\s*$", "", title.strip()).strip().lower()
    m = _ARTICLE.match(t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    return " ".join(re.sub(r"[^\w\s]", " ", t).split())


@dataclass
class ParsedRanking:
    """A free-text answer matched back to the candidate list."""

    order: list[int]  # candidate positions in the order the answer gives them (first mention)
    unknown: list[str] = field(default_factory=list)  # lines that match no candidate
    duplicates: int = 0  # candidates named more than once
    n_candidates: int = 0

    @property
    def complete(self) -> bool:
        return len(self.order) == self.n_candidates

    @property
    def valid(self) -> bool:
        """Complete, duplicate-free and naming nothing outside the candidate list."""
        return self.complete and self.duplicates == 0 and not self.unknown


def parse_ranking(answer: str, candidates: Sequence[str], cutoff: float = 0.85) -> ParsedRanking:
    """Match each non-empty answer line to a candidate title: exact after
    :func:`normalize_title`, else the closest title with similarity >= ``cutoff`` (difflib)."""
    names = [normalize_title(c) for c in candidates]
    index = {n: i for i, n in enumerate(names)}
    order, unknown, dup = [], [], 0
    for raw in answer.splitlines():
        line = _NUMBERING.sub("", raw).strip().strip("\"'`*").strip()
        if not line:
            continue
        key = normalize_title(line)
        hit = index.get(key)
        if hit is None:
            close = difflib.get_close_matches(key, names, n=1, cutoff=cutoff)
            hit = index[close[0]] if close else None
        if hit is None:
            unknown.append(raw.strip())
        elif hit in order:
            dup += 1
        else:
            order.append(hit)
    return ParsedRanking(order=order, unknown=unknown, duplicates=dup, n_candidates=len(names))


def rank_of_truth(
    order: Sequence[int], n_candidates: int, truth: int, rng: np.random.Generator
) -> int:
    """1-based rank of candidate ``truth`` in a possibly partial ``order``; candidates the answer
    left out share the remaining places in random order (so omitting never helps)."""
    if truth in order:
        return list(order).index(truth) + 1
    return len(order) + 1 + int(rng.integers(0, n_candidates - len(order)))


def scores_to_order(scores: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Candidate positions by descending score, ties in random order."""
    scores = np.asarray(scores, dtype=np.float64)
    return list(np.lexsort((rng.random(len(scores)), -scores)))


@dataclass
class RerankRun:
    """One ranker's answers on a candidate table: the truth's rank per user and parse stats."""

    ranks: np.ndarray  # (n_users,) 1-based rank of the true item
    valid: np.ndarray  # (n_users,) bool: complete, duplicate-free, nothing unknown
    top1: np.ndarray  # (n_users,) the item ranked first

    def metrics(self) -> dict[str, float]:
        out = metrics_from_ranks(self.ranks, ks=(1, 10))
        out["valid_share"] = float(self.valid.mean())
        return out


def run_rerank(
    rank_fn: Callable[[int, np.ndarray], list[int] | ParsedRanking],
    candidates: np.ndarray,
    seed: int = 0,
    shuffle: bool = True,
    progress: Callable | None = None,
    truth_at: int | None = None,
) -> RerankRun:
    """Show each user's candidates in a seeded random order and collect the truth's rank.

    Args:
        rank_fn: ``rank_fn(row, shown_items) -> order`` (positions into ``shown_items``) or a
            :class:`ParsedRanking`; ``row`` indexes ``candidates``.
        candidates: (n, m) item indices, the true item in column 0.
        seed: the order in which candidates are shown (a different seed = another shuffle).
        shuffle: False shows the truth first, which only a bias test should do.
        truth_at: show the truth at this position (0-based) and the others in a seeded random
            order: the controlled-position test of position bias.
    """
    if truth_at is not None and not 0 <= truth_at < candidates.shape[1]:
        raise ValueError(f"truth_at={truth_at} is outside 0..{candidates.shape[1] - 1}")
    rng = np.random.default_rng(seed)
    n, m = candidates.shape
    ranks, valid, top1 = np.empty(n, int), np.empty(n, bool), np.empty(n, np.int64)
    rows = range(n) if progress is None else progress(range(n))
    for r in rows:
        if truth_at is not None:
            perm = np.insert(1 + rng.permutation(m - 1), truth_at, 0)
        else:
            perm = rng.permutation(m) if shuffle else np.arange(m)
        shown = candidates[r, perm]
        answer = rank_fn(r, shown)
        parsed = (
            answer
            if isinstance(answer, ParsedRanking)
            else ParsedRanking(order=list(answer), n_candidates=m)
        )
        truth = int(np.flatnonzero(perm == 0)[0])
        ranks[r] = rank_of_truth(parsed.order, m, truth, rng)
        valid[r] = parsed.valid
        top1[r] = shown[parsed.order[0]] if parsed.order else -1
    return RerankRun(ranks=ranks, valid=valid, top1=top1)


def score_ranker(score_fn: Callable[[int, np.ndarray], np.ndarray], seed: int = 0):
    """Turn ``score_fn(row, shown_items) -> scores`` into a ``rank_fn`` for :func:`run_rerank`."""
    rng = np.random.default_rng(seed)
    return lambda r, shown: scores_to_order(score_fn(r, shown), rng)


def position_spread(runs: Sequence[RerankRun], metric: str = "ndcg@10") -> float:
    """max - min of ``metric`` over runs that differ only in the order the candidates were
    shown: 0 for an order-blind ranker; LLMRank reports large spreads for prompted LLMs."""
    values = [run.metrics()[metric] for run in runs]
    return float(max(values) - min(values))


def popularity_percentile(items: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each item's popularity as the share of catalogue items with a smaller count (0..1)."""
    counts = np.asarray(counts, dtype=np.float64)
    pct = pd.Series(counts).rank(pct=True, method="average").to_numpy()
    return pct[np.asarray(items)]
