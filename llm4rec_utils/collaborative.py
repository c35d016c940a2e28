"""Collaborative filtering baselines and models: popularity, ItemKNN, EASE, explicit MF (biased,
squared error), BPR-MF. All work on *encoded* indices and return a ``score_fn`` for the
evaluators (LightGCN lives in :mod:`llm4rec_utils.graph`).

- Koren, Bell and Volinsky (2009), "Matrix Factorization Techniques for Recommender Systems".
- Rendle et al. (2009), "BPR: Bayesian Personalized Ranking from Implicit Feedback".
- Steck (2019), "Embarrassingly Shallow Autoencoders for Sparse Data" (EASE).
- Sarwar et al. (2001), "Item-based Collaborative Filtering" (ItemKNN).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from .constants import ITEM_COL, RATING_COL, USER_COL
from .progress import tqdm
from .sampling import PositiveSet, sample_negatives
from .training import Checkpointer, adam, train_epoch


def interaction_matrix(
    df: pd.DataFrame,
    num_users: int,
    num_items: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
) -> sp.csr_matrix:
    """Binary user x item matrix (CSR, float32) of the (user, item) pairs in ``df``."""
    r = sp.csr_matrix(
        (np.ones(len(df), dtype=np.float32), (df[user_col].to_numpy(), df[item_col].to_numpy())),
        shape=(num_users, num_items),
    )
    r.data[:] = 1.0  # duplicates count once
    return r


def popularity_scores(train: pd.DataFrame, num_items: int, *, item_col: str = ITEM_COL):
    """Score = training count of the item, the same for every user."""
    counts = np.bincount(train[item_col].to_numpy(), minlength=num_items).astype(np.float64)
    return lambda users: np.tile(counts, (len(users), 1))


def itemknn_score_fn(R: sp.csr_matrix, k: int = 100, shrink: float = 10.0):
    """ItemKNN: cosine similarity of item columns (with shrinkage), keep each item's ``k`` most
    similar neighbours; a user's score for item j = sum of similarities of j to their items."""
    norms = np.sqrt(np.asarray(R.power(2).sum(axis=0))).ravel()
    co = (R.T @ R).toarray().astype(np.float64)
    sim = co / (np.outer(norms, norms) + shrink + 1e-12)
    np.fill_diagonal(sim, 0.0)
    if k < sim.shape[0]:
        drop = np.argpartition(-sim, k, axis=0)[k:]  # all but the top-k of each column
        np.put_along_axis(sim, drop, 0.0, axis=0)
    return lambda users: np.asarray(R[np.asarray(users)] @ sim)


def ease_weights(R: sp.csr_matrix, reg: float = 250.0) -> np.ndarray:
    """EASE: the item-item weight matrix B minimising ||R - RB||² + reg·||B||² with diag(B)=0,
    in closed form: P = (RᵀR + reg·I)⁻¹, B = I - P / diag(P)  (Steck 2019). (items, items)"""
    G = (R.T @ R).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += reg
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    return B


def ease_score_fn(R: sp.csr_matrix, reg: float = 250.0):
    """Scores of :func:`ease_weights`: a user's row of ``R`` times B."""
    B = ease_weights(R, reg)
    return lambda users: np.asarray(R[np.asarray(users)] @ B)


def fit_als(
    R: sp.csr_matrix,
    factors: int = 64,
    reg: float = 0.05,
    alpha: float = 20.0,
    iterations: int = 15,
    seed: int = 0,
):
    """Implicit-feedback ALS (Hu, Koren and Volinsky 2008) with the ``implicit`` library.

    Every (user, item) cell is a 0/1 preference p_ui with confidence c_ui = 1 + alpha * r_ui;
    ALS minimises sum c_ui (p_ui - x_u . y_i)^2 + reg (|x_u|^2 + |y_i|^2) by solving for all
    user vectors, then all item vectors, in closed form, ``iterations`` times (exact Cholesky
    solves, not conjugate gradient, so the result can be checked by hand).
    Returns the fitted ``implicit`` model (``user_factors`` (users, f), ``item_factors``)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # implicit reads the matrix's values as the confidences themselves (c = alpha * r with its
    # own alpha): pass 1 + alpha * r so that the model is Hu et al.'s
    C = sp.csr_matrix(R, dtype=np.float32, copy=True)
    C.data = 1.0 + alpha * C.data
    with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS must not as well
        model = AlternatingLeastSquares(
            factors=factors, regularization=reg, alpha=1.0, iterations=iterations,
            use_cg=False, calculate_training_loss=False, random_state=seed,
        )
        model.fit(C, show_progress=False)
    return model


def als_score_fn(R: sp.csr_matrix, **kwargs):
    """Scores x_u . y_i of :func:`fit_als` for every item."""
    model = fit_als(R, **kwargs)
    return lambda users: model.user_factors[np.asarray(users)] @ model.item_factors.T


# --------------------------------------------------------------------------- explicit MF


@dataclass
class MFConfig:
    num_users: int  # rows of the user table
    num_items: int  # rows of the item table
    emb_dim: int = 64  # latent factors
    reg: float = 0.05  # L2 on the factors and biases touched by each rating (as in Funk SVD)
    lr: float = 5e-3  # Adam learning rate
    epochs: int = 40  # passes over the training ratings
    batch_size: int = 1024  # ratings per step


class BiasedMF(nn.Module):
    """``r̂_ui = μ + b_u + b_i + p_u · q_i`` trained on squared error (the objective of the
    *LLM-rec potential and challenges* article)."""

    def __init__(self, cfg: MFConfig, global_mean: float):
        super().__init__()
        self.cfg = cfg
        self.mu = global_mean
        self.p = nn.Embedding(cfg.num_users, cfg.emb_dim)
        self.q = nn.Embedding(cfg.num_items, cfg.emb_dim)
        self.bu = nn.Embedding(cfg.num_users, 1)
        self.bi = nn.Embedding(cfg.num_items, 1)
        for e in (self.p, self.q):
            nn.init.normal_(e.weight, std=0.05)
        for e in (self.bu, self.bi):
            nn.init.zeros_(e.weight)

    def forward(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """u, i (B,) -> predicted ratings (B,)."""
        return (
            self.mu
            + self.bu(u).squeeze(-1)
            + self.bi(i).squeeze(-1)
            + (self.p(u) * self.q(i)).sum(-1)
        )

    def loss(self, u, i, r):
        """Mean squared error plus L2 on the parameters this batch touches."""
        pred = self.forward(u, i)
        reg = (
            (self.p(u) ** 2).sum(-1)
            + (self.q(i) ** 2).sum(-1)
            + self.bu(u).squeeze(-1) ** 2
            + self.bi(i).squeeze(-1) ** 2
        )
        return ((pred - r) ** 2).mean() + self.cfg.reg * reg.mean()


def train_mf(
    train: pd.DataFrame,
    cfg: MFConfig,
    seed: int = 0,
    progress: bool = True,
    *,
    user_col=USER_COL,
    item_col=ITEM_COL,
    rating_col=RATING_COL,
) -> tuple[BiasedMF, dict]:
    """Fit :class:`BiasedMF` with mini-batch Adam."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    u = torch.tensor(train[user_col].to_numpy(np.int64))
    i = torch.tensor(train[item_col].to_numpy(np.int64))
    r = torch.tensor(train[rating_col].to_numpy(np.float32))
    model = BiasedMF(cfg, float(r.mean()))
    opt = adam(model.parameters(), cfg.lr)
    hist = {"loss": []}
    start = time.perf_counter()
    for _ in tqdm(range(cfg.epochs), desc="MF", disable=not progress):
        loss = train_epoch(
            model, opt, len(r), cfg.batch_size, gen, lambda idx: model.loss(u[idx], i[idx], r[idx])
        )
        hist["loss"].append(loss)
    hist["wall_s"] = time.perf_counter() - start
    return model.eval(), hist


# --------------------------------------------------------------------------- BPR


class BPRMF(nn.Module):
    """Matrix factorisation trained with BPR: ``-log σ(x̂_ui - x̂_uj)`` for a positive i and a
    sampled negative j. Scores (B, num_items) = user vectors @ item vectorsᵀ."""

    def __init__(self, num_users: int, num_items: int, emb_dim: int = 64):
        super().__init__()
        self.user = nn.Embedding(num_users, emb_dim)
        self.item = nn.Embedding(num_items, emb_dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user.weight, self.item.weight

    def loss(self, u, i, j, reg: float = 1e-4):
        users, items = self.embeddings()
        # index_select: the same rows as users[u], with a faster backward pass on the CPU
        eu, ei, ej = users.index_select(0, u), items.index_select(0, i), items.index_select(0, j)
        x = (eu * ei).sum(-1) - (eu * ej).sum(-1)
        l2 = (eu**2).sum(-1) + (ei**2).sum(-1) + (ej**2).sum(-1)  # the same rows again
        return -nn.functional.logsigmoid(x).mean() + reg * l2.mean()

    @torch.no_grad()
    def score(self, users: np.ndarray) -> np.ndarray:
        eu, ei = self.embeddings()
        return (eu[torch.as_tensor(users)] @ ei.T).numpy()


def train_bpr(
    model: nn.Module,
    train: pd.DataFrame,
    num_items: int,
    epochs: int = 50,
    batch_size: int = 2048,
    lr: float = 1e-2,
    reg: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    desc: str = "BPR",
    eval_fn=None,
    eval_every: int = 10,
    *,
    user_col=USER_COL,
    item_col=ITEM_COL,
):
    """Train any model with ``loss(u, i, j)`` (BPR-MF, LightGCN) on uniformly sampled negatives
    that are never positives. One epoch = one pass over the training pairs.

    ``eval_fn(model) -> float`` (e.g. validation NDCG@10), if given, runs every ``eval_every``
    epochs and the best state is kept: the number of epochs is chosen on validation.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    users = train[user_col].to_numpy(np.int64)
    items = train[item_col].to_numpy(np.int64)
    pos = PositiveSet(users, items, num_items)
    opt = adam(model.parameters(), lr)
    hist = {"loss": []}
    ckpt = Checkpointer(eval_fn, eval_every, epochs)
    start = time.perf_counter()
    u_t, i_t = torch.tensor(users), torch.tensor(items)
    for epoch in tqdm(range(1, epochs + 1), desc=desc, disable=not progress):
        # fresh negatives every epoch, never a positive of the user
        j_t = torch.from_numpy(sample_negatives(users, pos, 1, seed=rng)[:, 0])

        def batch_loss(idx, j_t=j_t):
            return model.loss(u_t[idx], i_t[idx], j_t[idx], reg=reg)

        hist["loss"].append(train_epoch(model, opt, len(users), batch_size, gen, batch_loss))
        ckpt.step(model, epoch)
    hist.update(ckpt.finish(model))
    hist["wall_s"] = time.perf_counter() - start
    return hist
