import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from llm4rec_utils import metrics as M


def test_rating_errors_by_hand():
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        M.rmse([1, 2], [1])


def test_auc_by_hand_and_with_ties():
    # positives 0.8, 0.4; negatives 0.5, 0.1 -> pairs won: (0.8>0.5, 0.8>0.1, 0.4>0.1) = 3/4
    assert M.auc([1, 1, 0, 0], [0.8, 0.4, 0.5, 0.1]) == pytest.approx(0.75)
    # a tie counts one half
    assert M.auc([1, 0], [0.3, 0.3]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive and one negative"):
        M.auc([1, 1], [0.1, 0.2])


def test_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.normal(size=500) + y, 1)  # rounding creates ties
    assert M.auc(y, s) == pytest.approx(roc_auc_score(y, s))


RANKED = [5, 3, 9, 1, 7]
RELEVANT = {3, 7, 8}


def test_ranking_metrics_by_hand():
    # hits at ranks 2 and 5 (items 3, 7); item 8 never retrieved
    assert M.precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert M.recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert M.hit_rate_at_k(RANKED, RELEVANT, 1) == 0.0
    assert M.hit_rate_at_k(RANKED, RELEVANT, 2) == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    # AP@5 = (P@2 + P@5) / min(|relevant|, 5) = (1/2 + 2/5) / 3
    assert M.map_at_k(RANKED, RELEVANT, 5) == pytest.approx((0.5 + 0.4) / 3)
    assert M.mrr_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.5)
    assert M.mrr_at_k(RANKED, RELEVANT, 1) == 0.0


def test_perfect_ranking_scores_one():
    assert M.ndcg_at_k([1, 2, 3], {1, 2}, 3) == pytest.approx(1.0)
    assert M.map_at_k([1, 2, 3], {1, 2}, 3) == pytest.approx(1.0)
    # more relevant items than k: MAP (normalised by min(|relevant|, k)) and NDCG both reach 1
    assert M.ndcg_at_k([1, 2], {1, 2, 3}, 2) == pytest.approx(1.0)
    assert M.map_at_k([1, 2], {1, 2, 3}, 2) == pytest.approx(1.0)


def test_map_divides_by_min_of_relevant_and_k():
    # 6 relevant, k = 3, hits at ranks 1 and 3: (P@1 + P@3) / min(6, 3) = (1 + 2/3) / 3;
    # dividing by |relevant| (Recommenders' map without @k, trec_eval's map_cut) would give / 6
    assert M.map_at_k([1, 9, 2], {1, 2, 3, 4, 5, 6}, 3) == pytest.approx((1 + 2 / 3) / 3)
    assert M.map_at_k([1, 2, 3], {1, 2, 3, 4, 5, 6}, 3) == pytest.approx(1.0)


def _recbole_map(pos_index, pos_len):
    """RecBole 1.2's ``MAP.metric_info`` (recbole/evaluator/metrics.py), transcribed:
    ``pos_index[u, j]`` is whether user u's j-th item is relevant, ``pos_len[u]`` their number of
    relevant items; column k-1 of the result is AP@k."""
    pre = pos_index.cumsum(axis=1) / np.arange(1, pos_index.shape[1] + 1)
    sum_pre = np.cumsum(pre * pos_index.astype(float), axis=1)
    len_rank = np.full_like(pos_len, pos_index.shape[1])
    actual_len = np.where(pos_len > len_rank, len_rank, pos_len)
    result = np.zeros_like(pos_index, dtype=float)
    for row, lens in enumerate(actual_len):
        ranges = np.arange(1, pos_index.shape[1] + 1)
        ranges[lens:] = ranges[lens - 1]
        result[row] = sum_pre[row] / ranges
    return result


def _recommenders_ap(ranked, relevant, k):
    """Microsoft Recommenders' ``map_at_k`` for one user (python_evaluation.py since PR #2004):
    the sum of ``hit rank / rank`` over the top-k hits, divided by ``min(actual, k)``."""
    hits = [i for i, item in enumerate(list(ranked)[:k], start=1) if item in relevant]
    rr = sum(n / rank for n, rank in enumerate(hits, start=1))
    return rr / min(len(relevant), k)


def test_map_matches_recbole_and_recommenders():
    # the reference keeps our normalisation, min(|relevant|, k): RecBole's MAP and Recommenders'
    # map_at_k, transcribed above (trec_eval's map_cut divides by |relevant| instead)
    rng = np.random.default_rng(3)
    n_items, depth = 40, 20
    for _ in range(100):
        ranked = list(rng.permutation(n_items)[:depth])
        relevant = set(rng.choice(n_items, rng.integers(1, 30), replace=False).tolist())
        pos_index = np.array([[item in relevant for item in ranked]])
        recbole = _recbole_map(pos_index, np.array([len(relevant)]))[0]
        for k in (1, 3, 5, 10, 20):
            mine = M.map_at_k(ranked, relevant, k)
            assert mine == pytest.approx(recbole[k - 1]), k
            assert mine == pytest.approx(_recommenders_ap(ranked, relevant, k)), k


def test_user_without_relevant_items_is_nan():
    for fn in M.RANKING_METRICS.values():
        assert math.isnan(fn([1, 2, 3], set(), 3))
        with pytest.raises(ValueError, match="K must be a positive integer"):
            fn([1, 2, 3], set(), 0)  # K is checked even when the score is undefined


@pytest.mark.parametrize("name", sorted(M.RANKING_METRICS))
def test_duplicate_items_are_rejected(name):
    with pytest.raises(ValueError, match="more than once"):
        M.RANKING_METRICS[name]([7, 7, 7], {7}, 3)
    # a duplicate beyond the cut-off is not part of the scored list
    assert M.RANKING_METRICS[name]([7, 8, 7], {7}, 2) >= 0


def test_auc_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        M.auc([1, 0, 1], [0.2, 0.1])
    with pytest.raises(ValueError, match="NaN"):
        M.auc([1, 0], [0.2, float("nan")])
    with pytest.raises(ValueError, match="0 or 1"):
        M.auc([1, 0, 2], [0.2, 0.1, 0.3])
    assert M.auc([True, False], [0.9, 0.1]) == 1.0


def test_k_longer_than_list():
    # the list is used whole; precision still divides by k
    assert M.precision_at_k([1, 2], {1}, 10) == pytest.approx(0.1)
    assert M.recall_at_k([1, 2], {1}, 10) == pytest.approx(1.0)
    assert M.ndcg_at_k([2, 1], {1}, 10) == pytest.approx(1 / math.log2(3))


@pytest.mark.parametrize("k", [0, -1, 2.5, None, True])
def test_bad_k_is_a_clear_error(k):
    with pytest.raises(ValueError, match="K must be a positive integer"):
        M.ndcg_at_k([1, 2], {1}, k)


def test_ndcg_matches_sklearn_without_ties():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = (rng.random(30) < 0.2).astype(int)
        if y.sum() == 0:
            continue
        s = rng.permutation(30).astype(float)  # distinct scores: no ties
        ranked = list(np.argsort(-s))
        mine = M.ndcg_at_k(ranked, set(np.flatnonzero(y)), 10)
        assert mine == pytest.approx(ndcg_score(y[None], s[None], k=10))


def test_beyond_accuracy():
    lists = [[0, 1], [1, 2]]
    assert M.catalog_coverage(lists, 4) == pytest.approx(3 / 4)
    counts = np.array([8, 4, 2, 1])
    # p = count / num_users with 8 users: -log2 of (1, 1/2, 1/2, 1/4) -> (0, 1, 1, 2)
    assert M.novelty(lists, counts, 8) == pytest.approx((0 + 1 + 1 + 2) / 4)
    assert M.average_popularity(lists, counts) == pytest.approx((8 + 4 + 4 + 2) / 4)


def test_popularity_bias_is_the_share_of_head_items():
    counts = np.array([50, 40, 5, 3, 1, 1, 0, 0, 0, 0])  # head (10%) = item 0
    assert M.head_items(counts, 0.2).tolist() == [0, 1]
    assert M.popularity_bias([[0, 2], [4, 5]], counts) == pytest.approx(0.25)
    assert M.popularity_bias([[0, 1]], counts, share=0.2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="share"):
        M.head_items(counts, 0)


def test_check_scores_rejects_nan_and_plus_inf_and_allows_minus_inf():
    ok = M.check_scores([[1.0, -np.inf], [0.0, 2.0]], "scorer")
    assert ok.dtype == np.float64 and ok.shape == (2, 2)
    with pytest.raises(ValueError, match=r"my_fn gave NaN or \+inf scores for 2 of 3 users"):
        M.check_scores(
            [[np.nan, 0.0], [0.0, 0.0], [np.inf, 1.0]], "my_fn", rows="users", row_ids=[10, 11, 12]
        )
    with pytest.raises(ValueError, match=r"\[10, 12\]"):
        M.check_scores([[np.nan], [0.0], [np.inf]], "f", row_ids=[10, 11, 12])
    with pytest.raises(ValueError, match=r"\+inf"):
        M.auc([1, 0], [np.inf, 0.2])  # +inf: an overflowed score, not a confident one
    assert M.auc([1, 0], [0.5, -np.inf]) == 1.0  # -inf: a masked item, ranked last


def test_scorer_name_reads_functions_partials_and_callables():
    import functools

    def bpr_scores(users, k):
        return users

    class Model:
        def __call__(self, users):
            return users

    assert M.scorer_name(bpr_scores).endswith("bpr_scores")
    assert M.scorer_name(functools.partial(bpr_scores, k=1)).endswith("bpr_scores")
    assert M.scorer_name(Model()) == "Model"
