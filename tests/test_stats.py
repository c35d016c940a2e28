import numpy as np
import pandas as pd
import pytest

from llm4rec_utils.evaluate import evaluate_full_ranking
from llm4rec_utils.stats import (
    bootstrap_auc_ci,
    bootstrap_auc_diff_ci,
    bootstrap_ci,
    paired_bootstrap_pvalue,
)


def test_bootstrap_ci_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.random(50), rng.random(5000)
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < (hi_s - lo_s) / 5
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([np.nan])


def test_paired_test_detects_a_real_difference_only():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    assert paired_bootstrap_pvalue(a + 0.1, a) < 0.01
    assert paired_bootstrap_pvalue(a + rng.normal(0, 0.01, 500), a) > 0.01


def test_per_user_frame_matches_the_average():
    scores = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    test = pd.DataFrame({"user_id": [0, 1], "item_id": [0, 0]})
    res, per_user = evaluate_full_ranking(
        lambda u: scores[u], test, ks=[1], metrics=["hr"], return_per_user=True
    )
    assert per_user["hr@1"].tolist() == [1.0, 0.0] and res["hr@1"] == per_user["hr@1"].mean()


def test_paired_auc_difference_sees_what_separate_intervals_cannot():
    rng = np.random.default_rng(2)
    users = np.repeat(np.arange(200), 10)
    y = rng.integers(0, 2, users.size)
    # a user effect shared by both models makes each AUC noisy; their difference is not
    shared = rng.normal(0, 1.0, 200)[users]
    a = y * 0.6 + shared + rng.normal(0, 1, users.size)
    b = a - y * 0.1  # the same model, slightly worse at separating the classes
    lo_a, hi_a = bootstrap_auc_ci(y, a, users, n_boot=300)
    lo_b, hi_b = bootstrap_auc_ci(y, b, users, n_boot=300)
    assert lo_a < hi_b  # the per-model intervals overlap ...
    lo, hi = bootstrap_auc_diff_ci(y, a, b, users, n_boot=300)
    assert 0 < lo < hi  # ... but the paired difference excludes 0
    lo0, hi0 = bootstrap_auc_diff_ci(y, a, a, users, n_boot=50)
    assert lo0 == hi0 == 0
    with pytest.raises(ValueError, match="equal-length"):
        bootstrap_auc_diff_ci(y, a[:-1], b, users)
