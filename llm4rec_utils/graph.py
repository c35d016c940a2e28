"""User-item graphs: the bipartite adjacency, its symmetric normalisation and LightGCN.

He et al. (2020), "LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation", SIGIR.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def bipartite_adjacency(R: sp.spmatrix) -> sp.csr_matrix:
    """The (U+I) x (U+I) adjacency ``[[0, R], [Rᵀ, 0]]`` of the user-item graph."""
    return sp.bmat([[None, R], [R.T, None]], format="csr")


def normalize_adjacency(A: sp.spmatrix) -> sp.csr_matrix:
    """Symmetric normalisation ``D^{-1/2} A D^{-1/2}`` (isolated nodes keep zero rows)."""
    A = sp.csr_matrix(A)
    deg = np.asarray(A.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(deg, dtype=np.float64)
    nz = deg > 0
    inv_sqrt[nz] = deg[nz] ** -0.5
    D = sp.diags(inv_sqrt)
    return (D @ A @ D).tocsr()


def to_torch_sparse(A: sp.spmatrix) -> torch.Tensor:
    """SciPy sparse -> torch sparse COO (float32)."""
    coo = A.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(idx, values, coo.shape, check_invariants=True).coalesce()


class LightGCN(nn.Module):
    """Embeddings smoothed over the normalised user-item graph, no weights, no non-linearity:
    ``E^{(k+1)} = Â E^{(k)}``, final embedding = mean of ``E^{(0..K)}``. ``num_layers=0`` is
    plain MF (BPR-MF with the same training), so the layer ablation isolates propagation."""

    def __init__(self, R: sp.spmatrix, emb_dim: int = 64, num_layers: int = 3):
        super().__init__()
        self.num_users, self.num_items = R.shape
        self.num_layers = num_layers
        adj = to_torch_sparse(normalize_adjacency(bipartite_adjacency(R)))
        self.register_buffer("adj", adj, persistent=False)
        self.emb = nn.Embedding(self.num_users + self.num_items, emb_dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(users (U, d), items (I, d)) after propagation."""
        if not self.training and self._cache is not None:
            return self._cache
        e = self.emb.weight
        out = e
        for _ in range(self.num_layers):
            e = torch.sparse.mm(self.adj, e)
            out = out + e
        out = out / (self.num_layers + 1)
        users, items = out[: self.num_users], out[self.num_users :]
        self._cache = None if self.training else (users, items)
        return users, items

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def loss(self, u, i, j, reg: float = 1e-4):
        """BPR on propagated embeddings; L2 on the layer-0 embeddings of the batch."""
        users, items = self.embeddings()
        # index_select, not users[u]: the same rows, and a backward pass (index_add) about
        # twice as fast on the CPU as the one of advanced indexing
        eu, ei, ej = users.index_select(0, u), items.index_select(0, i), items.index_select(0, j)
        x = (eu * ei).sum(-1) - (eu * ej).sum(-1)
        e0 = self.emb.weight
        l2 = (
            (e0.index_select(0, u) ** 2).sum(-1)
            + (e0.index_select(0, self.num_users + i) ** 2).sum(-1)
            + (e0.index_select(0, self.num_users + j) ** 2).sum(-1)
        )
        return -nn.functional.logsigmoid(x).mean() + reg * l2.mean()

    @torch.no_grad()
    def score(self, users: np.ndarray) -> np.ndarray:
        eu, ei = self.embeddings()
        return (eu[torch.as_tensor(users)] @ ei.T).numpy()
