"""Choosing among recommenders online: ε-greedy, UCB1 and Thompson sampling, evaluated by replay.

Each arm is a recommender; each round a user arrives, the policy picks an arm, the arm's top-k
list is shown and the reward is 1 if it contains an item the user interacted with in held-out
data. Because every arm's reward for every user is known from the held-out log, rounds can be
replayed offline (Li et al. 2011, "Unbiased Offline Evaluation of Contextual-bandit-based News
Article Recommendation Algorithms", with full feedback instead of rejection sampling).
"""

from __future__ import annotations

import math

import numpy as np


class EpsilonGreedy:
    """Explore a random arm with probability ε, otherwise play the best mean so far."""

    def __init__(self, num_arms: int, epsilon: float = 0.1, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.eps = epsilon
        self.n = np.zeros(num_arms)
        self.mean = np.zeros(num_arms)

    def select(self, t: int) -> int:
        if self.rng.random() < self.eps or self.n.min() == 0:
            return (
                int(self.rng.integers(len(self.n))) if self.n.min() > 0 else int(np.argmin(self.n))
            )
        return int(np.argmax(self.mean))

    def update(self, arm: int, reward: float) -> None:
        self.n[arm] += 1
        self.mean[arm] += (reward - self.mean[arm]) / self.n[arm]


class UCB1(EpsilonGreedy):
    """Play the arm with the highest upper confidence bound ``mean + sqrt(2 ln t / n)``."""

    def __init__(self, num_arms: int, seed: int = 0):
        super().__init__(num_arms, 0.0, seed)

    def select(self, t: int) -> int:
        if self.n.min() == 0:
            return int(np.argmin(self.n))
        return int(np.argmax(self.mean + np.sqrt(2 * math.log(t + 1) / self.n)))


class ThompsonSampling:
    """Bernoulli rewards with Beta(1, 1) priors: sample a mean per arm, play the largest."""

    def __init__(self, num_arms: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.wins = np.ones(num_arms)
        self.losses = np.ones(num_arms)

    def select(self, t: int) -> int:
        return int(np.argmax(self.rng.beta(self.wins, self.losses)))

    def update(self, arm: int, reward: float) -> None:
        self.wins[arm] += reward
        self.losses[arm] += 1 - reward


def replay(
    policy, rewards: np.ndarray, rounds: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``policy`` for ``rounds`` rounds on users drawn uniformly (with replacement).

    Args:
        rewards: (num_users, num_arms) known reward of each arm for each user.

    Returns:
        (cumulative reward per round (rounds,), arm chosen per round (rounds,))
    """
    if rounds <= 0:
        raise ValueError("rounds must be positive")
    rng = np.random.default_rng(seed)
    users = rng.integers(0, rewards.shape[0], rounds)
    got = np.empty(rounds)
    arms = np.empty(rounds, dtype=np.int64)
    for t, u in enumerate(users):
        a = policy.select(t)
        got[t] = rewards[u, a]
        arms[t] = a
        policy.update(a, got[t])
    return np.cumsum(got), arms


def replay_fixed_arm(rewards: np.ndarray, arm: int, rounds: int, seed: int = 0) -> np.ndarray:
    """Cumulative reward of always playing ``arm`` on the same user stream as :func:`replay`."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, rewards.shape[0], rounds)
    return np.cumsum(rewards[users, arm])
