import numpy as np
import pandas as pd
import pytest

from llm4rec_utils.collaborative import popularity_scores
from llm4rec_utils.feedback import LoopConfig, simulate_feedback_loop
from llm4rec_utils.metrics import gini


def test_gini_by_hand():
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)  # (n - 1) / n when one item has it all
    assert gini([1, 2, 3]) == pytest.approx(2 / 9)  # sum |xi - xj| / (2 n^2 mean) = 8 / 36
    assert gini([0, 0]) == 0.0
    with pytest.raises(ValueError):
        gini([-1, 2])


def frames():
    # 3 users, 6 items; item 0 is popular in training; held-out likes: u0 {1, 2}, u1 {3}, u2 {5}
    train = pd.DataFrame(
        [(0, 0, 5), (1, 0, 4), (2, 0, 4), (2, 4, 3)], columns=["user_id", "item_id", "rating"]
    )
    train["timestamp"] = 1
    heldout = pd.DataFrame(
        [(0, 1, 5), (0, 2, 4), (1, 3, 4), (2, 5, 5), (1, 4, 2)],
        columns=["user_id", "item_id", "rating"],
    )
    return train, heldout


def test_loop_by_hand_with_a_fixed_order():
    train, heldout = frames()
    order = np.array([0.0, 6, 5, 4, 3, 1])  # every user is shown items by this fixed ranking

    def fit(data):
        return lambda users: np.tile(order, (len(users), 1))

    cfg = LoopConfig(rounds=3, slate=1, fresh_slates=True)
    log = simulate_feedback_loop(fit, train, heldout, 6, cfg, progress=False)
    # round 1: everyone sees item 1 (best unseen); only u0 likes it
    # round 2: item 2; u0 clicks; round 3: item 3; u1 clicks (u2 consumed 4, so it sees 3 too)
    assert log["clicks"].tolist() == [1, 1, 1]
    assert log["precision"].tolist() == pytest.approx([1 / 3] * 3)
    assert log["recall_cum"].tolist() == pytest.approx([1 / 4, 2 / 4, 3 / 4])
    assert log["coverage"].tolist() == pytest.approx([1 / 6] * 3)
    assert log["exposure_gini"].iloc[0] == pytest.approx(5 / 6)
    assert log["head_share"].tolist() == [0.0, 0.0, 0.0]  # the head (10% -> 1 item) is item 0
    # when unclicked items may return, u1 and u2 see item 1 again and again: a stuck loop
    repeat = simulate_feedback_loop(fit, train, heldout, 6, LoopConfig(3, 1), progress=False)
    assert repeat["clicks"].tolist() == [1, 1, 0]


def test_retraining_feeds_clicks_back_and_exploration_widens():
    train, heldout = frames()
    fits = []

    def fit(data):
        fits.append(len(data))
        return popularity_scores(data, 6)

    log = simulate_feedback_loop(
        fit, train, heldout, 6, LoopConfig(rounds=4, slate=2), progress=False
    )
    assert len(fits) == 4 and fits[0] == 4 and fits[-1] == 4 + log["clicks"].iloc[:-1].sum()
    fits.clear()
    simulate_feedback_loop(
        fit, train, heldout, 6, LoopConfig(rounds=4, slate=2, retrain=False), progress=False
    )
    assert fits == [4]
    explore = simulate_feedback_loop(
        fit, train, heldout, 6, LoopConfig(rounds=1, slate=2, explore=2), seed=1, progress=False
    )
    assert explore["precision"].iloc[0] <= 1.0 and explore["coverage"].iloc[0] > 0
    with pytest.raises(ValueError, match="explore"):
        LoopConfig(slate=2, explore=3)
    with pytest.raises(ValueError, match="like_threshold"):
        simulate_feedback_loop(
            fit, train, heldout.assign(rating=1), 6, LoopConfig(), progress=False
        )
