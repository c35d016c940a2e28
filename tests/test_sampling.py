import numpy as np
import pytest

from llm4rec_utils.sampling import PositiveSet, item_sampling_probs, sample_negatives


def test_negatives_are_never_positives():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 600)
    items = rng.integers(0, 40, 600)
    pos = PositiveSet(users, items, 40)
    for strategy, probs in [
        ("uniform", None),
        ("popularity", item_sampling_probs(np.arange(40) + 1)),
    ]:
        negs = sample_negatives(
            np.arange(30), pos, n=20, strategy=strategy, item_probs=probs, seed=1
        )
        assert negs.shape == (30, 20)
        assert not pos.contains(np.repeat(np.arange(30), 20), negs.ravel()).any()


def test_same_seed_same_negatives():
    pos = PositiveSet([0, 0, 1], [1, 2, 3], 10)
    a = sample_negatives([0, 1], pos, n=5, seed=3)
    b = sample_negatives([0, 1], pos, n=5, seed=3)
    assert (a == b).all()


def test_popularity_sampling_follows_counts():
    pos = PositiveSet([0], [0], 3)
    probs = item_sampling_probs([0, 1, 9])
    negs = sample_negatives(np.zeros(5000, int), pos, n=1, strategy="popularity", item_probs=probs)
    share = (negs == 2).mean()
    assert 0.87 < share < 0.93  # expected 0.9


def test_errors():
    pos = PositiveSet([0, 0], [0, 1], 2)
    with pytest.raises(ValueError, match="every item"):
        sample_negatives([0], pos)
    with pytest.raises(ValueError, match="unknown strategy"):
        sample_negatives([1], pos, strategy="hard")
    with pytest.raises(ValueError, match="n must be"):
        sample_negatives([1], pos, n=0)
    with pytest.raises(ValueError, match="encode IDs"):
        PositiveSet([0], [5], 3)
