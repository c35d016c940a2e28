import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from llm4rec_utils.collaborative import (
    BPRMF,
    MFConfig,
    ease_score_fn,
    interaction_matrix,
    itemknn_score_fn,
    popularity_scores,
    train_bpr,
    train_mf,
)
from llm4rec_utils.graph import LightGCN, bipartite_adjacency, normalize_adjacency


def test_normalised_adjacency_on_a_toy_by_hand():
    # 3 nodes: 0-1, 0-2 -> degrees 2, 1, 1; entry (0,1) = 1/sqrt(2*1)
    A = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float))
    N = normalize_adjacency(A).toarray()
    s = 1 / np.sqrt(2)
    assert N == pytest.approx(np.array([[0, s, s], [s, 0, 0], [s, 0, 0]]))
    assert np.allclose(N, N.T)


def test_bipartite_adjacency_shape_and_symmetry():
    R = interaction_matrix(pd.DataFrame({"user_id": [0, 1], "item_id": [2, 0]}), 2, 3)
    A = bipartite_adjacency(R).toarray()
    assert A.shape == (5, 5) and np.allclose(A, A.T)
    assert A[0, 2 + 2] == 1 and A[1, 2 + 0] == 1 and A[:2, :2].sum() == 0


def test_ease_and_itemknn_recover_co_occurrence():
    # items 0 and 1 always go together; user 2 has only item 0 -> item 1 should be top
    df = pd.DataFrame({"user_id": [0, 0, 1, 1, 2, 3], "item_id": [0, 1, 0, 1, 0, 2]})
    R = interaction_matrix(df, 4, 3)
    for fn in (ease_score_fn(R, reg=1.0), itemknn_score_fn(R, k=2, shrink=0.0)):
        s = fn(np.array([2]))[0]
        assert s[1] > s[2]
    assert popularity_scores(df, 3)(np.array([0]))[0].tolist() == [3, 2, 1]


def test_explicit_mf_beats_the_global_mean():
    rng = np.random.default_rng(0)
    pu, qi = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    u, i = np.meshgrid(np.arange(30), np.arange(20), indexing="ij")
    r = 3 + (pu @ qi.T)[u, i] + rng.normal(scale=0.1, size=u.shape)
    df = pd.DataFrame({"user_id": u.ravel(), "item_id": i.ravel(), "rating": r.ravel()})
    train, test = df.sample(frac=0.8, random_state=0), None
    test = df.drop(train.index)
    model, hist = train_mf(
        train,
        MFConfig(30, 20, emb_dim=4, reg=0.01, lr=0.02, epochs=60, batch_size=64),
        progress=False,
    )
    with torch.no_grad():
        pred = model(torch.tensor(test.user_id.values), torch.tensor(test.item_id.values)).numpy()
    rmse = np.sqrt(np.mean((pred - test.rating.values) ** 2))
    baseline = np.sqrt(np.mean((train.rating.mean() - test.rating.values) ** 2))
    assert rmse < 0.5 * baseline


def two_communities():
    rows = [(u, i) for u in range(10) for i in range(5) if (u + i) % 4] + [
        (u, i) for u in range(10, 20) for i in range(5, 10) if (u + i) % 4
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id"])


@pytest.mark.parametrize("make", ["bpr", "lightgcn"])
def test_bpr_models_learn_communities(make):
    df = two_communities()
    R = interaction_matrix(df, 20, 10)
    model = BPRMF(20, 10, 8) if make == "bpr" else LightGCN(R, 8, num_layers=2)
    hist = train_bpr(model, df, 10, epochs=60, batch_size=32, lr=0.05, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    s = model.score(np.array([0, 15]))
    assert s[0, :5].mean() > s[0, 5:].mean() and s[1, 5:].mean() > s[1, :5].mean()


def test_lightgcn_with_zero_layers_is_plain_embeddings():
    R = interaction_matrix(two_communities(), 20, 10)
    m = LightGCN(R, 4, num_layers=0).eval()
    users, items = m.embeddings()
    assert torch.equal(users, m.emb.weight[:20]) and torch.equal(items, m.emb.weight[20:])


def test_als_item_vectors_solve_the_confidence_weighted_least_squares():
    """The last ALS half-step solves each item vector in closed form given the user vectors:
    y_i = (Xᵀ C_i X + reg I)⁻¹ Xᵀ C_i p_i with c_ui = 1 + alpha r_ui (Hu et al. 2008)."""
    import numpy as np
    import scipy.sparse as sp

    from llm4rec_utils.collaborative import als_score_fn, fit_als

    rng = np.random.default_rng(0)
    R = sp.csr_matrix((rng.random((30, 12)) < 0.3).astype(float))
    alpha, reg = 10.0, 0.1
    model = fit_als(R, factors=4, reg=reg, alpha=alpha, iterations=3, seed=0)
    X, Y = model.user_factors.astype(np.float64), model.item_factors.astype(np.float64)
    for i in range(12):
        r = R[:, i].toarray().ravel()
        c, p = 1 + alpha * r, (r > 0).astype(float)
        want = np.linalg.solve(X.T @ (c[:, None] * X) + reg * np.eye(4), X.T @ (c * p))
        np.testing.assert_allclose(Y[i], want, rtol=1e-3, atol=1e-4)
    scores = als_score_fn(R, factors=4, iterations=5, seed=0)(np.array([0, 1]))
    assert scores.shape == (2, 12)
    seen = R[:2].toarray() > 0  # fitted preferences: seen items score higher on average
    assert scores[seen].mean() > scores[~seen].mean()
