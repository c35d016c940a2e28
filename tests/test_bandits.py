import numpy as np
import pytest

from llm4rec_utils.bandits import UCB1, EpsilonGreedy, ThompsonSampling, replay, replay_fixed_arm


@pytest.mark.parametrize("policy_cls", [EpsilonGreedy, UCB1, ThompsonSampling])
def test_policies_find_the_best_arm(policy_cls):
    rng = np.random.default_rng(0)
    rewards = (rng.random((500, 3)) < np.array([0.2, 0.5, 0.8])).astype(float)
    cum, arms = replay(policy_cls(3, seed=1), rewards, 3000, seed=2)
    assert (arms[-1000:] == 2).mean() > 0.8
    best = replay_fixed_arm(rewards, 2, 3000, seed=2)[-1]
    worst = replay_fixed_arm(rewards, 0, 3000, seed=2)[-1]
    assert worst < cum[-1] <= best + 50


def test_replay_is_deterministic_and_checks_rounds():
    rewards = np.eye(2)
    a, _ = replay(ThompsonSampling(2, seed=0), rewards, 10, seed=0)
    b, _ = replay(ThompsonSampling(2, seed=0), rewards, 10, seed=0)
    assert (a == b).all()
    with pytest.raises(ValueError, match="rounds"):
        replay(UCB1(2), rewards, 0)
