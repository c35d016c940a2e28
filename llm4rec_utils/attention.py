"""Attention and the transformer block, written out so each step can be checked.

Vaswani et al. (2017), "Attention Is All You Need". The block here matches
``torch.nn.TransformerEncoderLayer`` (ReLU, ``batch_first=True``) given the same weights; a
test in ``tests/test_attention.py`` proves it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def softmax_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtracting the row max changes nothing mathematically."""
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def attention_np(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None):
    """Scaled dot-product attention in NumPy: ``softmax(Q K^T / sqrt(d_k)) V``.

    Args:
        q: queries (n_q, d_k); k: keys (n_k, d_k); v: values (n_k, d_v).
        mask: boolean (n_q, n_k), ``True`` where attention is *allowed*.

    Returns:
        (output (n_q, d_v), weights (n_q, n_k)); each weight row sums to 1.
    """
    d_k = q.shape[-1]
    scores = q @ k.T / math.sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    weights = softmax_np(scores, axis=-1)
    return weights @ v, weights


def causal_mask(n: int, device=None) -> torch.Tensor:
    """Boolean (n, n), ``True`` where position i may attend to j (j <= i)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def sinusoidal_positions(n: int, d_model: int) -> torch.Tensor:
    """Fixed positional encoding (n, d_model): sin on even, cos on odd dimensions."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )
    pe = torch.zeros(n, d_model)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return pe


class Dropout(nn.Dropout):
    """``nn.Dropout`` with the same behaviour and a cheaper mask on the CPU.

    Training zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``;
    evaluation passes ``x`` through. The mask is drawn as ``uniform >= p`` instead of torch's
    ``bernoulli_``, which is about twice as slow on the CPU: in SASRec's training profile the
    masks were a quarter of each step.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return torch.zeros_like(x)
        keep = torch.empty_like(x).uniform_().ge_(self.p)  # 1.0 with probability 1 - p
        return x * keep.mul_(1.0 / (1.0 - self.p))


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention as reshapes: project, split into heads, attend, merge.

    Shapes: x (B, n, d_model) -> (B, n, d_model); weights (B, heads, n, n).
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads, self.d_head = num_heads, d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = Dropout(dropout)
        self.last_weights: torch.Tensor | None = None  # kept for plotting attention maps

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, n, d) -> (B, h, n, d_head)
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args:
        attn_mask: bool (n, n), True = allowed (e.g. :func:`causal_mask`).
        key_padding_mask: bool (B, n), True = padding (ignored as a key).
        """
        q, k, v = (
            self._split(self.q_proj(x)),
            self._split(self.k_proj(x)),
            self._split(self.v_proj(x)),
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, h, n, n)
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.nan_to_num(weights)  # a fully masked row (padding query) -> zeros
        self.last_weights = weights.detach()
        out = self.dropout(weights) @ v  # (B, h, n, d_head)
        b, _, n, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, -1))


class TransformerBlock(nn.Module):
    """Self-attention + position-wise feed-forward, each with residual and layer norm.

    ``norm_first=False`` (post-norm) is the original Transformer and torch's default;
    ``norm_first=True`` (pre-norm) trains more stably in deep or small-data settings.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
    ):
        super().__init__()
        self.attn = MultiHeadSelfAttention(d_model, num_heads, dropout)
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop1, self.drop2 = Dropout(dropout), Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x, attn_mask=None, key_padding_mask=None):
        """x (B, n, d_model) -> (B, n, d_model)."""
        if self.norm_first:
            x = x + self.drop1(self.attn(self.norm1(x), attn_mask, key_padding_mask))
            return x + self.drop2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop1(self.attn(x, attn_mask, key_padding_mask)))
        return self.norm2(x + self.drop2(self.ff(x)))

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> TransformerBlock:
        """Copy the weights of a ``nn.TransformerEncoderLayer`` (to show both compute the same)."""
        wq, wk, wv = layer.self_attn.in_proj_weight.chunk(3)
        bq, bk, bv = layer.self_attn.in_proj_bias.chunk(3)
        for proj, w, b in [
            (self.attn.q_proj, wq, bq),
            (self.attn.k_proj, wk, bk),
            (self.attn.v_proj, wv, bv),
        ]:
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        self.attn.out_proj.load_state_dict(layer.self_attn.out_proj.state_dict())
        self.ff[0].load_state_dict(layer.linear1.state_dict())
        self.ff[3].load_state_dict(layer.linear2.state_dict())
        self.norm1.load_state_dict(layer.norm1.state_dict())
        self.norm2.load_state_dict(layer.norm2.state_dict())
        return self
