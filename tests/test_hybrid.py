import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from llm4rec_utils import hybrid as H


def test_knn_graph_keeps_top_k_positive_neighbours():
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    g = H.knn_graph(v, k=1).toarray()
    assert g[0].argmax() == 1 and g[1].argmax() == 0 and (g > 0).sum(axis=1).max() == 1
    assert np.all(np.diag(g) == 0) and g.min() >= 0


def test_graph_scores_propagate_history():
    R = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]]))
    S = sp.csr_matrix(np.array([[0, 0.5, 0.2], [0, 0, 0], [0, 0, 0]]))
    assert H.graph_score_fn(R, S)(np.array([0]))[0].tolist() == [0, 0.5, 0.2]


def test_kg_features_link_films_through_shared_entities():
    links = pd.DataFrame({"item_id": [10, 11, 12], "entity_id": ["m.a", "m.b", "m.c"]})
    kg = pd.DataFrame(
        {
            "head_id": ["m.a", "m.b", "m.director", "m.c"],
            "relation_id": ["film.film.actor"] * 4,
            "tail_id": ["m.actor", "m.actor", "m.c", "m.other"],
        }
    )
    f = H.kg_item_features(kg, links, np.array([10, 11, 12, 13]), min_items=2)
    assert f.shape == (4, 1)  # only m.actor touches two films
    assert f[0, 0] > 0 and f[1, 0] > 0 and f[2, 0] == 0 and f[3, 0] == 0
    g = H.cosine_item_graph(f, k=1).toarray()
    assert g[0, 1] == pytest.approx(1.0)


def test_fusion_standardises_and_weights():
    a = lambda u: np.array([[1.0, 2.0, 3.0]])  # noqa: E731
    b = lambda u: np.array([[300.0, 200.0, 100.0]])  # noqa: E731
    fused = H.fuse_score_fns([a, b], [1.0, 1.0])(np.array([0]))
    assert np.allclose(fused, 0)  # opposite orders cancel once on the same scale
    assert H.fuse_score_fns([a, b], [1.0, 0.0])(np.array([0]))[0].argmax() == 2
    with pytest.raises(ValueError, match="one weight"):
        H.fuse_score_fns([a], [1.0, 2.0])


def test_restrict_items():
    s = H.restrict_items(lambda u: np.array([[5.0, 1.0, 3.0]]), np.array([1, 2]))(np.array([0]))
    assert s[0, 0] == -np.inf and s[0, 2] == 3.0


def test_kg_features_keep_only_the_relations_asked_for():
    links = pd.DataFrame({"item_id": [10, 11, 12], "entity_id": ["m.a", "m.b", "m.c"]})
    kg = pd.DataFrame(
        {
            "head_id": ["m.a", "m.b", "m.a", "m.c"],
            "relation_id": ["film.film.directed_by", "film.film.directed_by",
                            "film.film.award_won", "film.film.award_won"],
            "tail_id": ["m.director", "m.director", "m.oscar", "m.oscar"],
        }
    )  # fmt: skip
    items = np.array([10, 11, 12])
    g_all = H.cosine_item_graph(H.kg_item_features(kg, links, items), k=2).toarray()
    assert g_all[0, 2] > 0  # the award links film 10 to film 12
    f = H.kg_item_features(kg, links, items, relations=H.TASTE_RELATIONS)
    g = H.cosine_item_graph(f, k=2).toarray()
    assert g[0, 1] > 0 and g[0, 2] == 0  # only the shared director is left
    with pytest.raises(ValueError, match="none of the relations"):
        H.kg_item_features(kg, links, items, relations=["film.film.nonsense"])


def test_shared_entity_pairs_pair_films_of_one_director_either_direction():
    links = pd.DataFrame({"item_id": [10, 11, 12, 13], "entity_id": ["m.a", "m.b", "m.c", "m.d"]})
    kg = pd.DataFrame(
        {
            "head_id": ["m.a", "m.dir", "m.c", "m.a"],
            "relation_id": ["film.film.directed_by", "film.director.film",
                            "film.film.directed_by", "film.film.award_won"],
            "tail_id": ["m.dir", "m.b", "m.other", "m.d"],
        }
    )  # fmt: skip
    got = H.shared_entity_pairs(kg, links, ["film.film.directed_by", "film.director.film"])
    assert got.values.tolist() == [[10, 11]]  # 12 has another director; the award is not asked for
