import math

import numpy as np
import pandas as pd
import pytest

from llm4rec_utils.evaluate import evaluate_full_ranking, evaluate_sampled, top_k_items


def frame(pairs):
    return pd.DataFrame(pairs, columns=["user_id", "item_id"])


def test_top_k_masks_and_orders_by_score():
    scores = np.array([[1.0, 3.0, 2.0, 0.5]])
    assert top_k_items(scores, 3).tolist() == [[1, 2, 0]]
    assert top_k_items(scores, 2, exclude=[np.array([1])]).tolist() == [[2, 0]]
    rng = np.random.default_rng(3)
    s = rng.normal(size=(50, 200))
    assert (top_k_items(s, 10) == np.argsort(-s, axis=1)[:, :10]).all()


def test_top_k_breaks_ties_at_random_by_seed():
    flat = np.zeros((400, 10))  # every item tied: the top-1 must be uniform, not item 0
    first = top_k_items(flat, 1, seed=0)[:, 0]
    counts = np.bincount(first, minlength=10)
    assert counts.min() > 15 and counts.max() < 70  # ~40 each
    assert (top_k_items(flat, 3, seed=0) == top_k_items(flat, 3, seed=0)).all()
    assert not (top_k_items(flat, 3, seed=0) == top_k_items(flat, 3, seed=1)).all()
    # ties only among equal scores: a higher score still wins
    scores = np.array([[1.0, 3.0, 3.0, 0.5]] * 50)
    top2 = top_k_items(scores, 2, seed=0)
    assert {frozenset(r) for r in top2.tolist()} == {frozenset({1, 2})}
    assert set(top2[:, 0].tolist()) == {1, 2}


def test_full_ranking_masks_training_items():
    # 2 users, 5 items; the scorer loves item 0, which user 0 already saw in training
    scores = np.array([[9, 1, 5, 3, 2], [9, 1, 5, 3, 2]], dtype=float)
    train = frame([(0, 0), (1, 4)])
    test = frame([(0, 3), (1, 0)])
    res = evaluate_full_ranking(lambda u: scores[u], test, exclude=[train], ks=[1, 2])
    # user 0 ranking without item 0: [2, 3, 1, 4] -> item 3 at rank 2
    # user 1 ranking without item 4: [0, 2, 3, 1] -> item 0 at rank 1
    assert res["hr@1"] == pytest.approx(0.5)
    assert res["hr@2"] == pytest.approx(1.0)
    assert res["ndcg@2"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert res["mrr@2"] == pytest.approx((0.5 + 1) / 2)
    assert res["users"] == 2
    # without the mask user 0's training item takes rank 1 and pushes item 3 to rank 3
    unmasked = evaluate_full_ranking(lambda u: scores[u], test, ks=[2])
    assert unmasked["hr@2"] == pytest.approx(0.5)


def test_full_ranking_beyond_accuracy():
    scores = np.tile(np.array([4.0, 3.0, 2.0, 1.0]), (2, 1))
    res = evaluate_full_ranking(
        lambda u: scores[u],
        frame([(0, 1), (1, 2)]),
        ks=[2],
        item_counts=np.array([3, 2, 1, 1]),
        num_users=4,
    )
    assert res["coverage@2"] == pytest.approx(0.5)
    assert res["arp@2"] == pytest.approx(2.5)


def test_sampled_never_draws_known_items_and_ranks_perfect_scorer_first():
    num_items = 50
    test = frame([(0, 7), (1, 8)])
    train = frame([(0, i) for i in range(0, 40)] + [(1, 1)])

    def oracle(users):
        s = np.zeros((len(users), num_items))
        for r, u in enumerate(users):
            s[r, 7 if u == 0 else 8] = 1.0
        return s

    res = evaluate_sampled(oracle, test, [train, test], num_items, n_negatives=5, ks=[1], seed=0)
    assert res["hr@1"] == 1.0 and res["mrr"] == 1.0


def test_sampled_constant_scorer_is_not_lucky():
    num_items = 200
    test = frame([(u, u) for u in range(100)])
    res = evaluate_sampled(
        lambda u: np.zeros((len(u), num_items)), test, [test], num_items, n_negatives=99, ks=[10]
    )
    # random tie-breaking: HR@10 among 100 candidates ~ 0.10
    assert 0.03 < res["hr@10"] < 0.2


def test_empty_test_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        evaluate_full_ranking(lambda u: np.zeros((len(u), 3)), frame([]))


def test_candidate_ranks_and_metrics_from_ranks():
    from llm4rec_utils.evaluate import candidate_ranks, metrics_from_ranks

    rng = np.random.default_rng(0)
    pos = np.array([0.9, 0.1, 0.5])
    neg = np.array([[0.1, 0.2], [0.5, 0.6], [0.5, 0.0]])
    ranks = candidate_ranks(pos, neg, rng)
    assert ranks[0] == 1 and ranks[1] == 3 and ranks[2] in (1, 2)  # a tie: either place
    # a constant scorer gets a uniformly random rank, not rank 1
    const = candidate_ranks(np.zeros(4000), np.zeros((4000, 19)), rng)
    assert const.mean() == pytest.approx(10.5, abs=0.3)
    res = metrics_from_ranks(np.array([1, 3, 11]), ks=(1, 10))
    assert res["hr@1"] == pytest.approx(1 / 3)
    assert res["hr@10"] == pytest.approx(2 / 3)
    assert res["ndcg@10"] == pytest.approx((1 + 1 / np.log2(4)) / 3)
    assert res["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 11) / 3)
    with pytest.raises(ValueError):
        candidate_ranks(pos, neg[:, 0], rng)
    with pytest.raises(ValueError, match="K"):
        metrics_from_ranks(ranks, ks=(0,))


# --------------------------------------------------------------------------- invalid scores


def _sampled_setup():
    num_items = 60
    test = frame([(u, u) for u in range(20)])
    train = frame([(u, u + 20) for u in range(20)])
    return num_items, test, train


def nan_scorer(users):
    return np.full((len(users), 60), np.nan)


def test_sampled_with_an_all_nan_scorer_is_an_error_not_a_perfect_result():
    num_items, test, train = _sampled_setup()
    with pytest.raises(ValueError, match=r"score_fn 'nan_scorer'.*NaN.*20 of 20 users") as e:
        evaluate_sampled(nan_scorer, test, [train, test], num_items, n_negatives=10, ks=[1, 10])
    assert "-inf" in str(e.value) and "\n" not in str(e.value)  # says how to fix it, one line


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "+inf"])
def test_sampled_names_how_many_users_a_bad_value_touches(bad):
    num_items, test, train = _sampled_setup()

    def scorer(users):
        s = np.random.default_rng(0).normal(size=(len(users), num_items))
        s[np.isin(users, [3, 7]), 5] = bad
        return s

    with pytest.raises(ValueError, match=r"'.*scorer' gave NaN or \+inf.* 2 of 20 users.*\[3, 7\]"):
        evaluate_sampled(scorer, test, [train, test], num_items, n_negatives=10)


def test_full_ranking_with_a_nan_scorer_is_an_error():
    test = frame([(0, 1), (1, 2), (2, 3)])
    scores = np.array([[1.0, 2.0, np.nan, 0.0], [1.0, 2.0, 3.0, 0.0], [np.nan] * 4])
    with pytest.raises(ValueError, match=r"score_fn '.*<lambda>'.*2 of 3 users.*\[0, 2\]"):
        evaluate_full_ranking(lambda u: scores[u], test, ks=[2])
    with pytest.raises(ValueError, match=r"score_fn.*NaN or \+inf"):
        evaluate_full_ranking(lambda u: np.full((len(u), 4), np.inf), test, ks=[2])
    import torch

    one_bad = torch.tensor(np.nan_to_num(scores, nan=0.0))
    one_bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"1 of 3 users.*\[1\]"):  # a torch scorer too
        evaluate_full_ranking(lambda u: one_bad[torch.as_tensor(u)], test, ks=[2])


def test_minus_inf_masks_items_and_stays_allowed():
    # full ranking: user 0's scorer masks item 0 itself (a seen item), like exclude does
    scores = np.array([[-np.inf, 1.0, 5.0, 3.0], [9.0, 1.0, 5.0, -np.inf]])
    test = frame([(0, 3), (1, 0)])
    res = evaluate_full_ranking(lambda u: scores[u], test, ks=[1, 2])
    assert res["hr@1"] == pytest.approx(0.5) and res["hr@2"] == pytest.approx(1.0)
    assert top_k_items(scores, 4, seed=0)[:, -1].tolist() == [0, 3]  # masked items come last
    # fewer than k unmasked items: they lead, in score order; the masked tail follows
    only_two = np.array([[-np.inf, 2.0, -np.inf, 1.0]])
    assert top_k_items(only_two, 3)[0, :2].tolist() == [1, 3]
    # sampled: a masked positive ranks last among finite negatives, no error
    num_items, test, train = _sampled_setup()

    def masks_the_positive(users):
        s = np.ones((len(users), num_items))
        s[np.arange(len(users)), users] = -np.inf  # item u is user u's positive
        return s

    res = evaluate_sampled(masks_the_positive, test, [train, test], num_items, n_negatives=10)
    assert res["hr@10"] == 0.0 and res["mrr"] == pytest.approx(1 / 11)


def test_top_k_items_rejects_nan_instead_of_returning_a_random_list():
    scores = np.array([[np.nan, np.nan, np.nan], [3.0, 2.0, 1.0]])
    with pytest.raises(ValueError, match=r"top_k_items.*1 of 2 rows"):
        top_k_items(scores, 2)
    with pytest.raises(ValueError, match=r"\+inf"):
        top_k_items(np.array([[np.inf, 0.0]]), 1)


def test_candidate_ranks_rejects_a_nan_positive_that_would_rank_first():
    from llm4rec_utils.evaluate import candidate_ranks

    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"candidate_ranks.*2 of 3 candidate rows"):
        candidate_ranks(
            np.array([np.nan, 0.5, 0.1]), np.array([[0.1, 0.2], [0.3, np.nan], [0.0, 0.0]]), rng
        )
    ranks = candidate_ranks(np.array([-np.inf, 0.5]), np.array([[0.1, 0.2], [-np.inf, 0.0]]), rng)
    assert ranks.tolist() == [3, 1]  # -inf ranks last, and masks a negative


def test_evaluate_sampled_per_pair_values_average_to_the_summary():
    import numpy as np
    import pandas as pd

    from llm4rec_utils.evaluate import evaluate_sampled

    rng = np.random.default_rng(0)
    test = pd.DataFrame({"user_id": np.arange(30), "item_id": rng.integers(0, 50, 30)})
    table = rng.random((30, 50))
    out, pairs = evaluate_sampled(lambda u: table[u], test, [test], 50, n_negatives=20, seed=1,
                                  return_per_pair=True)
    assert len(pairs) == 30 and list(pairs["user_id"]) == list(range(30))
    assert pairs["hr@10"].mean() == out["hr@10"]
    assert np.isclose(pairs["ndcg@10"].mean(), out["ndcg@10"])
