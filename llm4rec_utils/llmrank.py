"""The LLMRank protocol: a language model ranks 20 candidates from a history of titles.

Hou et al., "Large Language Models are Zero-Shot Rankers for Recommender Systems", ECIR 2024.
A user's history is written as an ordered list of titles; the candidates are the true next item
and items the user never interacted with; the model is asked to order the candidates. This
module builds the candidate sets and prompts, parses free-text answers back into rankings and
measures the protocol's known biases. The models that answer live in :mod:`llm_backends`.

A prompted ranker has settings (likelihood or generation, a demonstration or none, the history's
order): :func:`choose_on_validation` tries each on validation users' candidates and picks one
with :func:`~llm4rec_utils.verdicts.select_on_validation`; only the chosen one is then scored on
the test users, beside the baselines on the same candidate lists.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import ITEM_COL, USER_COL
from .evaluate import metrics_from_ranks, ndcg_from_ranks
from .verdicts import select_on_validation


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
    order = "most recent first" if recent_first else "oldest first"
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


_NUMBERING = re.compile(r"^\s*(?:\d{1,2}\s*[.):\]]|[-*•]|\[\d+\])\s*")
_ARTICLES = "the|a|an|les|la|le|il|das|der|die|el"
_ARTICLE = re.compile(rf"^(.*), ({_ARTICLES})$")
_LEADING_ARTICLE = re.compile(rf"^(?:{_ARTICLES}) (?=\S)")


def normalize_title(title: str) -> str:
    """Lower case, HTML entities decoded, a trailing year and punctuation dropped, "Usual
    Suspects, The" -> "the usual suspects", so that an answer's wording can be matched to the
    catalogue (MovieLens writes the article last, a model writes it first)."""
    t = re.sub(r"\(\s*\d{4}\s*\)\s*$", "", html.unescape(title).strip()).strip().lower()
    m = _ARTICLE.match(t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    return " ".join(re.sub(r"[^\w\s]", " ", t).split())


@dataclass
class ParsedRanking:
    """A free-text answer matched back to the candidate list."""

    order: list[int]  # candidate positions in the order the answer gives them (first mention)
    unknown: list[str] = field(default_factory=list)  # entries that match no candidate
    duplicates: int = 0  # candidates named more than once
    n_candidates: int = 0
    ignored: list[str] = field(default_factory=list)  # preamble, reasons, sign-off: not entries

    @property
    def complete(self) -> bool:
        return len(self.order) == self.n_candidates

    @property
    def valid(self) -> bool:
        """Complete, duplicate-free and naming nothing outside the candidate list."""
        return self.complete and self.duplicates == 0 and not self.unknown


def _phrase_at(phrase: str, text: str) -> int:
    """Where ``phrase`` occurs in ``text`` as whole words (both normalised), else -1."""
    return f" {text} ".find(f" {phrase} ")


def _is_prose(line: str) -> bool:
    """A line that is talk, not a title: one that introduces a list ("...ranking:") or a
    sentence of four or more words ("I hope you enjoy them!")."""
    line = line.strip().strip("*_`").strip()
    return line.endswith(":") or (line[-1:] in ".!?" and len(line.split()) >= 4)


def _with_year(title: str) -> str:
    """:func:`normalize_title` keeping a trailing year: tells "That Darn Cat! (1965)" from its
    1997 remake."""
    m = re.search(r"\(\s*(\d{4})\s*\)\s*$", title.strip())
    return f"{normalize_title(title)} {m.group(1)}" if m else normalize_title(title)


def _match_line(
    line: str, names: list[str], dated: list[str], variants: list[list[str]], cutoff: float
) -> tuple[int | None, str]:
    """The candidate an answer line names and how it was found (see :func:`parse_ranking`)."""
    key = normalize_title(line)
    if not key:
        return None, ""
    if _with_year(line) in dated:
        return dated.index(_with_year(line)), "exact"
    if key in names:
        return names.index(key), "exact"
    # a candidate written inside the line: reasons after it, a rank word before it
    found = []
    for i, vs in enumerate(variants):
        for v in vs:
            at = _phrase_at(v, key)
            if at >= 0:
                found.append((at, -len(v), i))
    if found:
        return min(found)[2], "inside"
    close = difflib.get_close_matches(key, names, n=1, cutoff=cutoff)
    if close:
        return names.index(close[0]), "close"
    # a title with a typo, then reasons: compare the line's first words with each title
    words = key.split()
    best, best_ratio = None, cutoff
    for i, n in enumerate(names):
        head = " ".join(words[: len(n.split())])
        ratio = difflib.SequenceMatcher(None, head, n).ratio()
        if len(words) > len(n.split()) and ratio >= best_ratio:
            best, best_ratio = i, ratio
    if best is not None:
        return best, "inside"
    # a shortened title: the line (two words or more) inside exactly one candidate
    if len(words) >= 2:
        inside = [i for i, n in enumerate(names) if _phrase_at(key, n) >= 0]
        if len(inside) == 1:
            return inside[0], "shortened"
    return None, ""


def parse_ranking(answer: str, candidates: Sequence[str], cutoff: float = 0.85) -> ParsedRanking:
    """Match a free-text answer back to the candidates, at least as tolerantly as LLMRank's own
    parser (``parsing_output_text`` in RUCAIBox/LLMRank, llmrank/model/rank.py).

    Entries: when the answer numbers or bullets its lines, only those lines are entries and the
    rest (preamble, reasons on their own lines, sign-off) is ``ignored``; otherwise every line
    is an entry, except talk (a line ending in ":" or a sentence of four or more words) that is
    not itself a candidate's title. Numbering and bullets are stripped, then each entry is
    matched, first test that succeeds:

    1. exactly, after :func:`normalize_title` (case, year, punctuation, "Matrix, The" = "The
       Matrix"); the year, when written, tells a title from its remake;
    2. a candidate title written inside the entry as whole words ("Fargo (1996) - a dark comedy
       like the ones you watched"; LLMRank: the candidate is a substring of the line); titles are
       also tried without their leading article, so "Matrix, The - sci-fi" finds "The Matrix";
       if several are, the one written first;
    3. the closest title with difflib similarity >= ``cutoff`` (LLMRank: a long common
       subsequence), then the same for the entry's first words (a typo followed by reasons);
    4. a shortened title: an entry of two or more words inside exactly one candidate (LLMRank:
       the line is a substring of a candidate; it takes the first such candidate even when
       several are, we take none then).

    Entries that match nothing are ``unknown`` (an invented title); a candidate named again is
    a duplicate (two candidates with the same title take its first and second mention).
    Candidates the answer never names are left out of ``order``; how they are scored is
    :func:`rank_of_truth`'s ``omitted``.
    """
    names = [normalize_title(c) for c in candidates]
    dated = [_with_year(c) for c in candidates]
    variants = []
    for n in names:
        vs = [n] if len(n) >= 3 else []
        bare = _LEADING_ARTICLE.sub("", n)
        if bare != n and len(bare) >= 3:
            vs.append(bare)
        variants.append(vs)
    lines = [raw for raw in answer.splitlines() if raw.strip()]
    listed = any(_NUMBERING.match(raw) for raw in lines)
    order, unknown, ignored, dup = [], [], [], 0
    for raw in lines:
        is_entry = _NUMBERING.match(raw) is not None
        line = _NUMBERING.sub("", raw).strip().strip("\"'`*_").strip()
        if not line or (listed and not is_entry):
            ignored.append(raw.strip())
            continue
        hit, how = _match_line(line, names, dated, variants, cutoff)
        if hit is None and is_entry:  # "2001: A Space Odyssey" read as numbering
            hit, how = _match_line(raw.strip(), names, dated, variants, cutoff)
        if not listed and _is_prose(line) and how not in ("exact", "close"):
            ignored.append(raw.strip())
            continue
        if hit is not None and hit in order:
            # a remake, or the catalogue's same title under two IDs: the next one not yet named
            twins = [j for j, n in enumerate(names) if n == names[hit] and j not in order]
            same = [j for j in twins if dated[j] == _with_year(line)]
            if same or (twins and dated[hit] != _with_year(line)):
                hit = (same or twins)[0]
        if hit is None:
            unknown.append(raw.strip())
        elif hit in order:
            dup += 1
        else:
            order.append(hit)
    return ParsedRanking(
        order=order, unknown=unknown, duplicates=dup, n_candidates=len(names), ignored=ignored
    )


OMITTED = ("miss", "random")


def rank_of_truth(
    order: Sequence[int],
    n_candidates: int,
    truth: int,
    rng: np.random.Generator | None = None,
    *,
    omitted: str = "miss",
) -> int:
    """1-based rank of candidate ``truth`` in a possibly partial ``order``.

    Args:
        omitted: how a truth the answer left out is scored. ``"miss"`` (the default, as LLMRank
            scores it: a candidate the parser does not find keeps the score -10000 of every
            non-candidate) puts it beyond the list, at rank ``n_candidates + 1``: a miss at
            every K up to the list's length (its reciprocal rank is ``1 / (n_candidates + 1)``).
            ``"random"`` lets the left-out candidates share the remaining places in random order
            (needs ``rng``): the rank a random completion of the answer would give.
    """
    if omitted not in OMITTED:
        raise ValueError(f"omitted must be one of {OMITTED}, got {omitted!r}")
    if truth in order:
        return list(order).index(truth) + 1
    if omitted == "miss":
        return n_candidates + 1
    if rng is None:
        raise ValueError('omitted="random" needs an rng')
    return len(order) + 1 + int(rng.integers(0, n_candidates - len(order)))


def scores_to_order(scores: np.ndarray, rng: np.random.Generator) -> list[int]:
    """Candidate positions by descending score, ties in random order."""
    scores = np.asarray(scores, dtype=np.float64)
    return list(np.lexsort((rng.random(len(scores)), -scores)))


@dataclass
class RerankRun:
    """One ranker's answers on a candidate table: the truth's rank per user and parse stats."""

    ranks: np.ndarray  # (n_users,) 1-based rank of the true item (m + 1: left out, a miss)
    valid: np.ndarray  # (n_users,) bool: complete, duplicate-free, nothing unknown
    top1: np.ndarray  # (n_users,) the item ranked first

    def metrics(self) -> dict[str, float]:
        out = metrics_from_ranks(self.ranks, ks=(1, 10))
        out["valid_share"] = float(self.valid.mean())
        return out

    def ndcg(self, k: int = 10) -> np.ndarray:
        """Per-user NDCG@k (one true item: ``1 / log2(rank + 1)`` in the top k, else 0): the
        units a paired comparison of two rankers on the same candidates resamples."""
        return np.asarray(ndcg_from_ranks(self.ranks, k), dtype=np.float64)


def run_rerank(
    rank_fn: Callable[[int, np.ndarray], list[int] | ParsedRanking],
    candidates: np.ndarray,
    seed: int = 0,
    shuffle: bool = True,
    progress: Callable | None = None,
    truth_at: int | None = None,
    omitted: str = "miss",
) -> RerankRun:
    """Show each user's candidates in a seeded random order and collect the truth's rank.

    The shown orders depend on ``seed`` alone (the random places of ``omitted="random"`` are
    drawn apart), so every ranker run with one seed sees each user's candidates in the same
    order, and the first n rows are shown as they are in a run over all rows.

    Args:
        rank_fn: ``rank_fn(row, shown_items) -> order`` (positions into ``shown_items``) or a
            :class:`ParsedRanking`; ``row`` indexes ``candidates``.
        candidates: (n, m) item indices, the true item in column 0.
        seed: the order in which candidates are shown (a different seed = another shuffle).
        shuffle: False shows the truth first, which only a bias test should do.
        truth_at: show the truth at this position (0-based) and the others in a seeded random
            order: the controlled-position test of position bias.
        omitted: how a truth the answer leaves out is ranked (:func:`rank_of_truth`):
            ``"miss"``, beyond the list, as LLMRank scores it; ``"random"``, a random place
            among the candidates the answer left out.
    """
    if omitted not in OMITTED:
        raise ValueError(f"omitted must be one of {OMITTED}, got {omitted!r}")
    if truth_at is not None and not 0 <= truth_at < candidates.shape[1]:
        raise ValueError(f"truth_at={truth_at} is outside 0..{candidates.shape[1] - 1}")
    rng = np.random.default_rng(seed)
    fill_rng = np.random.default_rng([seed, 1])  # omitted="random" only: never moves the orders
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
        ranks[r] = rank_of_truth(parsed.order, m, truth, fill_rng, omitted=omitted)
        valid[r] = parsed.valid
        top1[r] = shown[parsed.order[0]] if parsed.order else -1
    return RerankRun(ranks=ranks, valid=valid, top1=top1)


@dataclass
class SettingChoice:
    """Prompt settings tried on validation users, and the one chosen there."""

    chosen: str
    runs: dict[str, RerankRun]  # setting -> its run on the validation candidates
    k: int = 10

    def per_user(self, setting: str | None = None) -> np.ndarray:
        """Per-user validation NDCG@k of ``setting`` (the chosen one by default)."""
        return self.runs[setting or self.chosen].ndcg(self.k)

    @property
    def table(self) -> pd.DataFrame:
        """One row per setting: validation NDCG@k, HR@1, valid share, users, and which won."""
        rows = {
            name: {
                f"valid ndcg@{self.k}": float(run.ndcg(self.k).mean()),
                "valid hr@1": float((run.ranks == 1).mean()),
                "valid_share": float(run.valid.mean()),
                "users": len(run.ranks),
                "chosen": name == self.chosen,
            }
            for name, run in self.runs.items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")


def choose_on_validation(
    rank_fns: Mapping[str, Callable[[int, np.ndarray], list[int] | ParsedRanking]],
    candidates: np.ndarray,
    seed: int = 0,
    k: int = 10,
    omitted: str = "miss",
) -> SettingChoice:
    """Rank the *validation* candidates with every setting and choose the one with the best
    mean NDCG@k (:func:`~llm4rec_utils.verdicts.select_on_validation`; a tie goes to the first
    listed). Every setting sees each user's candidates in the same shown order (one ``seed``).

    Args:
        rank_fns: setting name -> ``rank_fn(row, shown_items)`` as for :func:`run_rerank`,
            reading the history of validation row ``row`` (the items before its target).
        candidates: (n, m) validation candidates, the validation target in column 0; built
            with the test items among the ``known`` interactions, so no test item is shown.

    The test users are then ranked once, with the chosen setting.
    """
    if not rank_fns:
        raise ValueError("no setting to choose from")
    runs = {
        name: run_rerank(fn, candidates, seed=seed, omitted=omitted)
        for name, fn in rank_fns.items()
    }
    chosen = select_on_validation({name: float(run.ndcg(k).mean()) for name, run in runs.items()})
    return SettingChoice(chosen=chosen, runs=runs, k=k)


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
