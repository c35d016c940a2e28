"""Item-item graphs from side information (language-model embeddings, the knowledge graph),
fusion of recommenders, and cold-start helpers (the proposals of the *LLM personalisation* and
*LLM-rec potential and challenges* articles, docs/claims.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .constants import ENTITY_COL, HEAD_COL, ITEM_COL, RELATION_COL, TAIL_COL
from .embeddings import normalize_rows


def knn_graph(vectors: np.ndarray, k: int = 20) -> sp.csr_matrix:
    """Item-item kNN graph: each item keeps its ``k`` most cosine-similar items (no self-loops,
    negative similarities dropped). Returns (num_items, num_items) CSR, row = item."""
    v = normalize_rows(vectors)
    return knn_graph_from_similarity(v @ v.T, k)


def graph_score_fn(R: sp.csr_matrix, S: sp.spmatrix):
    """Score item j for user u as ``sum_{i in history(u)} S[i, j]``: propagate the user's items
    one step over an item-item graph. R: (users, items) history; S: (items, items)."""
    S = sp.csr_matrix(S)
    return lambda users: np.asarray((R[np.asarray(users)] @ S).todense())


# The Freebase relations that carry taste: who made the film, who is in it, what it is about.
# Left out: awards, language, country, content rating and production company, entities shared
# by hundreds of unrelated films (an award category links Star Wars to whatever else won it).
TASTE_RELATIONS = (
    "film.film.actor", "film.actor.film", "film.film.genre", "film.film_genre.films_in_this_genre",
    "film.film.directed_by", "film.director.film", "film.film.written_by", "film.writer.film",
    "film.film.produced_by", "film.producer.film", "film.film.cinematography",
    "film.cinematographer.film", "film.film.subjects", "film.film_subject.films",
    "film.film.prequel", "film.film.sequel",
)  # fmt: skip


def _film_entity_pairs(kg: pd.DataFrame, films, head_col: str, tail_col: str) -> pd.DataFrame:
    """(film, entity) for every triple with a linked film (in ``films``) on either side."""
    sides = []
    for a, b in ((head_col, tail_col), (tail_col, head_col)):
        side = kg[[a, b]].rename(columns={a: "film", b: "entity"})
        sides.append(side[side["film"].isin(films)])
    return pd.concat(sides, ignore_index=True).drop_duplicates()


def kg_item_features(
    kg: pd.DataFrame,
    links: pd.DataFrame,
    item_ids: np.ndarray,
    min_items: int = 2,
    relations: Sequence[str] | None = None,
    *,
    item_col: str = ITEM_COL,
    entity_col: str = ENTITY_COL,
    head_col: str = HEAD_COL,
    tail_col: str = TAIL_COL,
    relation_col: str = RELATION_COL,
) -> sp.csr_matrix:
    """Items x Freebase entities: 1 where the item's entity shares a triple with the entity
    (its actors, director, genres, writers, ...), TF-IDF weighted so that entities shared by
    many films (a genre) count less than rare ones (a director).

    Args:
        item_ids: raw item IDs in index order (``item_map.to_raw``); unlinked items get a zero row.
        min_items: ignore entities connected to fewer items (they cannot relate two films).
        relations: keep only triples with these relations (e.g. :data:`TASTE_RELATIONS`);
            ``None`` keeps every relation.
    """
    if relations is not None:
        unknown = set(relations) - set(kg[relation_col])
        if len(unknown) == len(set(relations)):
            raise ValueError(f"none of the relations {sorted(relations)[:3]}... is in the graph")
        kg = kg[kg[relation_col].isin(relations)]
    ent_of = dict(zip(links[entity_col], links[item_col], strict=True))
    row_of = {raw: r for r, raw in enumerate(np.asarray(item_ids).tolist())}
    pairs = _film_entity_pairs(kg, ent_of, head_col, tail_col)
    pairs["row"] = pairs["film"].map(ent_of).map(row_of)
    pairs = pairs.dropna(subset=["row"])
    counts = pairs.groupby("entity")["row"].nunique()
    pairs = pairs[pairs["entity"].map(counts) >= min_items]
    ent_index = {e: c for c, e in enumerate(sorted(pairs["entity"].unique()))}
    idf = np.log(len(item_ids) / counts[sorted(ent_index)].to_numpy())
    cols = pairs["entity"].map(ent_index).to_numpy()
    m = sp.csr_matrix(
        (idf[cols], (pairs["row"].astype(int).to_numpy(), cols)),
        shape=(len(item_ids), len(ent_index)),
    )
    return m


def shared_entity_pairs(
    kg: pd.DataFrame,
    links: pd.DataFrame,
    relations: Sequence[str],
    *,
    item_col: str = ITEM_COL,
    entity_col: str = ENTITY_COL,
    head_col: str = HEAD_COL,
    tail_col: str = TAIL_COL,
    relation_col: str = RELATION_COL,
) -> pd.DataFrame:
    """Pairs of items (raw IDs, ``item_a < item_b``) whose linked entities share an entity
    under ``relations`` (e.g. the same director: ``film.film.directed_by`` and its reverse
    ``film.director.film``), one row per pair. A check of the item-entity links: if they point
    at the right films, films with one director should resemble each other (genres, audience)
    more than random pairs do."""
    kg = kg[kg[relation_col].isin(relations)]
    item_of = dict(zip(links[entity_col], links[item_col], strict=True))
    pairs = _film_entity_pairs(kg, item_of, head_col, tail_col)
    pairs["item"] = pairs["film"].map(item_of)
    out = set()
    for group in pairs.groupby("entity", observed=True)["item"]:
        items = sorted(set(group[1].tolist()))
        out.update((x, y) for i, x in enumerate(items) for y in items[i + 1 :])
    return pd.DataFrame(sorted(out), columns=["item_a", "item_b"])


def cosine_item_graph(features: sp.spmatrix, k: int = 20) -> sp.csr_matrix:
    """kNN graph from sparse item features (e.g. :func:`kg_item_features`)."""
    f = sp.csr_matrix(features, dtype=np.float64)
    norms = np.sqrt(np.asarray(f.multiply(f).sum(axis=1))).ravel()
    f = sp.diags(1 / np.where(norms == 0, 1, norms)) @ f
    return knn_graph_from_similarity((f @ f.T).toarray(), k)


def knn_graph_from_similarity(sim: np.ndarray, k: int) -> sp.csr_matrix:
    """Keep each row's ``k`` largest positive similarities (diagonal excluded)."""
    sim = np.array(sim, dtype=np.float64)
    np.fill_diagonal(sim, -np.inf)
    k = min(k, sim.shape[0] - 1)
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(sim.shape[0]), k)
    vals = np.maximum(sim[rows, top.ravel()], 0.0)
    return sp.csr_matrix((vals, (rows, top.ravel())), shape=sim.shape)


def standardize_rows(scores: np.ndarray) -> np.ndarray:
    """Per-user z-scores, so recommenders on different scales can be averaged."""
    s = np.asarray(scores, dtype=np.float64)
    mu = s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return (s - mu) / np.where(sd == 0, 1, sd)


def fuse_score_fns(fns: Sequence, weights: Sequence[float]):
    """Weighted sum of per-user standardised scores: ``sum_m w_m · z(score_m)``."""
    if len(fns) != len(weights) or not fns:
        raise ValueError("give one weight per score function")

    def score(users):
        return sum(w * standardize_rows(f(users)) for f, w in zip(fns, weights, strict=True))

    return score


def restrict_items(fn, allowed: np.ndarray):
    """Score only ``allowed`` items (others get -inf): ranking among a candidate set."""
    allowed = np.asarray(allowed)

    def score(users):
        full = np.asarray(fn(users), dtype=np.float64)
        s = np.full_like(full, -np.inf)
        s[:, allowed] = full[:, allowed]
        return s

    return score
