"""Sequential recommendation: time-ordered histories and a self-attentive model (SASRec).

Kang and McAuley (2018), "Self-Attentive Sequential Recommendation", ICDM. Trained here with
cross-entropy over all items at every position (as RecBole's ``loss_type="CE"``), which on
small catalogues beats the paper's one-negative binary loss.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .attention import Dropout, TransformerBlock, causal_mask
from .constants import ITEM_COL, TIMESTAMP_COL, USER_COL
from .progress import tqdm
from .repro import by_profile
from .splits import time_sorted
from .training import Checkpointer, adam, length_bucketed_batches, linear_warmup, train_epoch

PAD = 0  # item index 0 is padding; real items are shifted to 1..num_items


def user_sequences(
    df: pd.DataFrame,
    num_users: int,
    seed: int = 0,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
    timestamp_col: str = TIMESTAMP_COL,
) -> list[np.ndarray]:
    """Each user's item indices in time order, same-second ties in the seeded random order of
    :func:`llm4rec_utils.splits.tie_key` (pass the split's seed so both agree).

    Returns:
        A list of length ``num_users``; entry u holds user u's items (may be empty).
    """
    s = time_sorted(
        df, True, seed, user_col=user_col, item_col=item_col, timestamp_col=timestamp_col
    )
    out = [np.empty(0, dtype=np.int64) for _ in range(num_users)]
    for u, items in s.groupby(user_col)[item_col]:
        out[int(u)] = items.to_numpy(np.int64)
    return out


def left_pad(seqs: list[np.ndarray], max_len: int, shift: int = 1) -> np.ndarray:
    """Keep the last ``max_len`` items of each sequence, shift by ``shift`` (0 is padding) and
    pad on the left. Returns int64 (len(seqs), max_len)."""
    out = np.zeros((len(seqs), max_len), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = s[-max_len:]
        if len(s):
            out[r, -len(s) :] = s + shift
    return out


def training_windows(
    seqs: list[np.ndarray], max_len: int, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each sequence into (input, next-item target) windows of ``max_len``, from the end.

    With ``stride < max_len`` windows overlap, and each target is kept only in the window where
    it sits last (its longest context): every target is trained on exactly once, and all but
    those of a user's earliest window see at least ``max_len - stride`` items of history.

    Returns:
        inputs, targets: int64 (n_windows, max_len), shifted by one (0 = padding).
    """
    stride = max_len if stride is None else stride
    if not 0 < stride <= max_len:
        raise ValueError(f"stride must be in [1, max_len={max_len}], got {stride}")
    ins, outs = [], []
    for s in seqs:
        end = len(s)  # targets of this window: s[end - max_len : end] (those that exist)
        while end >= 2:
            start = max(0, end - max_len - 1)
            window = s[start:end]
            target = window[1:].copy() + 1  # shifted: 0 stays free for "no target"
            if start > 0 and end - stride > 1:  # not the earliest window: keep the last `stride`
                target[:-stride] = -1  # -1 + 1 = 0 after the shift below
            ins.append(window[:-1])
            outs.append(target - 1)
            if start == 0:
                break
            end -= stride
    inputs = left_pad(ins, max_len)
    targets = left_pad([np.where(o < 0, -1, o) for o in outs], max_len)  # -1 + 1 = 0 = PAD
    return inputs, targets


@dataclass
class SASRecConfig:
    num_items: int  # catalogue size (items are indices 0..num_items-1)
    max_len: int = 50  # longest history the model attends over
    emb_dim: int = 64  # item and position embedding size (= d_model)
    num_heads: int = 2  # attention heads per block
    num_blocks: int = 2  # transformer blocks
    d_ff: int = 256  # hidden size of the feed-forward layer in each block
    dropout: float = 0.2  # dropout on embeddings, attention weights and feed-forward
    norm_first: bool = True  # pre-norm blocks (SASRec's own choice)
    item_bias: bool = False  # a learned per-item score offset (a popularity prior) in the logits
    mask_history: bool = False  # train as evaluated: items already in the history get no score
    future_items: int = 1  # targets per position: the next item and the ones after it (1 = SASRec)
    future_decay: float = 0.5  # weight of each later target relative to the one before it


def sasrec_ml100k_config(num_items: int, **overrides) -> SASRecConfig:
    """The one SASRec of this collection on MovieLens-100K: trained in notebook 03 and priced in
    notebook 08 with exactly these shapes (``overrides`` for ablations, e.g. ``future_items=3``).

    100 items of history (the median user has more than 60 ratings), 64-d, two pre-norm
    blocks of two heads, dropout 0.3 (chosen on validation in notebook 03's development).
    """
    base = dict(max_len=100, emb_dim=64, num_heads=2, num_blocks=2, d_ff=256, dropout=0.3)
    return SASRecConfig(num_items=num_items, **{**base, **overrides})


def sasrec_ml100k_training(profile: str) -> dict:
    """Notebook 03's training recipe for :func:`sasrec_ml100k_config`, per profile: the keyword
    arguments of :func:`train_sasrec` besides the data (early stopping on validation NDCG@10,
    checked every ``eval_every`` epochs, ``patience`` checks). Part of the model's cache key,
    so notebook 09 finds 03's model only when both used this recipe.

    32 windows per batch give ~48 Adam steps per epoch; validation NDCG@10 is noisy, so
    patience 4 (20 epochs in the full profile) rides out a dip.
    """
    return dict(
        epochs=by_profile(profile, smoke=2, full=55, gpu=200),
        batch_size=32,
        lr=2e-3,
        eval_every=by_profile(profile, smoke=1, full=5),
        patience=4,
    )


class SASRec(nn.Module):
    """Causal self-attention over a user's item history; the next item is scored by the dot
    product of the last hidden state with every item embedding (shared input/output table).

    Shapes: seq (B, L) of shifted item indices (0 = padding) -> hidden (B, L, emb_dim).
    """

    def __init__(self, cfg: SASRecConfig):
        super().__init__()
        self.cfg = cfg
        self.item_emb = nn.Embedding(cfg.num_items + 1, cfg.emb_dim, padding_idx=PAD)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.emb_dim)
        self.drop = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.emb_dim, cfg.num_heads, cfg.d_ff, cfg.dropout, cfg.norm_first)
            for _ in range(cfg.num_blocks)
        )
        self.final_norm = nn.LayerNorm(cfg.emb_dim)
        self.bias = nn.Parameter(torch.zeros(cfg.num_items)) if cfg.item_bias else None
        nn.init.normal_(self.item_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.register_buffer("mask", causal_mask(cfg.max_len), persistent=False)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq (B, L) -> hidden states (B, L, emb_dim), L <= max_len.

        Sequences are left-padded, so the last column is always position ``max_len - 1``: a
        batch trimmed to its longest history (``L < max_len``) uses the same positions as the
        full-width one.
        """
        L, max_len = seq.shape[1], self.cfg.max_len
        if L > max_len:
            raise ValueError(f"sequence length {L} exceeds max_len={max_len}; keep the last items")
        pos = torch.arange(max_len - L, max_len, device=seq.device)
        x = self.item_emb(seq) * self.cfg.emb_dim**0.5 + self.pos_emb(pos)[None]
        x = self.drop(x)
        pad = seq == PAD
        x = x * (~pad)[..., None]
        for block in self.blocks:
            x = block(x, attn_mask=self.mask[:L, :L], key_padding_mask=pad)
            x = x * (~pad)[..., None]
        return self.final_norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (..., emb_dim) -> scores over real items (..., num_items)."""
        scores = hidden @ self.item_emb.weight[1:].T
        return scores if self.bias is None else scores + self.bias

    def loss(self, seq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the next item at every non-padding position.

        With ``future_items = k > 1`` each position is also trained on the k - 1 items after the
        next one, with weights 1, d, d², ... (``d = future_decay``), normalised per position: a
        soft target for data whose order within a short burst is arbitrary. k = 1 is the plain
        next-item cross-entropy.

        seq, target: (B, L) shifted indices; target[t] is the item after seq[..t].
        """
        hidden = self.forward(seq)  # (B, L, emb_dim)
        keep = target != PAD  # score only real positions: padding would waste most of the work
        logits = self.logits(hidden[keep])  # (P, num_items)
        future = next_items(target, self.cfg.future_items)[keep]  # (P, k); column 0 = next item
        if self.cfg.mask_history:
            logits = logits.masked_fill(
                history_mask(seq, keep, future, self.cfg.num_items), float("-inf")
            )
        if self.cfg.future_items == 1:
            return nn.functional.cross_entropy(logits, future[:, 0] - 1)
        decay = self.cfg.future_decay ** torch.arange(future.shape[1], device=future.device)
        real = future != PAD  # (P, k): targets past the window's end are padding
        weight = decay * real
        logp = torch.log_softmax(logits, -1).gather(1, (future - 1).clamp(min=0))
        logp = logp.masked_fill(~real, 0.0)  # a padded slot may gather a masked -inf
        return -((logp * weight).sum(1) / weight.sum(1)).mean()

    @torch.inference_mode()
    def score(self, seq: torch.Tensor) -> torch.Tensor:
        """Next-item scores from the last position: (B, L) -> (B, num_items)."""
        return self.logits(self.forward(seq)[:, -1])


def next_items(target: torch.Tensor, k: int) -> torch.Tensor:
    """The k items from each position on: (B, L) -> (B, L, k), out[b, t, j] = target[b, t + j]
    (padding, 0, past the end of the row)."""
    if k < 1:
        raise ValueError(f"future_items must be at least 1, got {k}")
    return nn.functional.pad(target, (0, k - 1)).unfold(1, k, 1)


def history_mask(
    seq: torch.Tensor, keep: torch.Tensor, targets: torch.Tensor, num_items: int
) -> torch.Tensor:
    """For each kept position (b, t): True at the items seq[b, :t+1] already seen, so they are
    left out of the softmax, as they are left out of the ranking at evaluation time. A target
    that was seen before (a repeat) stays scored.

    seq: (B, L) shifted indices (0 = padding); keep: bool (B, L); targets: (P, k) shifted
    targets of each kept position (see :func:`next_items`), none of them masked. Returns bool
    (P, num_items) over the real items, P = keep.sum(), rows in the order of ``hidden[keep]``.
    """
    causal = causal_mask(seq.shape[1], seq.device)  # (t, s): s <= t
    seen = (seq[:, None, :] * causal)[keep]  # (P, L): items at s <= t, 0 (padding) elsewhere
    mask = torch.zeros(len(seen), num_items + 1, dtype=torch.bool, device=seq.device)
    mask.scatter_(1, seen, True)
    mask.scatter_(1, targets, False)
    return mask[:, 1:]


def train_sasrec(
    model: SASRec,
    train_seqs: list[np.ndarray],
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: torch.device | str = "cpu",
    seed: int = 0,
    stride: int | None = None,
    warmup_steps: int = 0,
    cosine_decay: bool = False,
    clip_norm: float | None = None,
    bucket_batches: int = 8,
    eval_fn=None,
    eval_every: int = 10,
    patience: int = 3,
    progress: bool = True,
) -> dict:
    """Train with Adam on (input = seq[:-1], target = seq[1:]) windows of each user.

    Args:
        train_seqs: per-user training sequences (item indices, unshifted).
        stride: window stride (see :func:`training_windows`); ``None`` = ``max_len``.
        warmup_steps: linear learning-rate warm-up over this many steps (0 = none).
        cosine_decay: decay the learning rate along a half cosine to 0 at the last epoch.
        clip_norm: clip the gradient norm to this value (``None`` = no clipping).
        bucket_batches: shuffle, then sort groups of this many batches by history length, so
            each batch is trimmed to its longest window with little padding (1 = plain shuffle;
            every batch is trimmed either way).
        eval_fn: optional ``model -> float`` (higher is better, e.g. validation NDCG@10). The
            best state is kept; training stops after ``patience`` evaluations without gain.

    Returns:
        History: losses per epoch, evaluations, best epoch, wall seconds.
    """
    gen = torch.Generator().manual_seed(seed)
    L = model.cfg.max_len
    ins, outs = training_windows(train_seqs, L, stride)
    inputs, targets = torch.from_numpy(ins), torch.from_numpy(outs)
    lengths = (ins != PAD).sum(1)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        width = int(lengths[idx.numpy()].max())  # drop the all-padding columns on the left
        seq, target = inputs[idx, -width:], targets[idx, -width:]
        return model.loss(seq.to(device), target.to(device))

    model.to(device)
    opt = adam(model.parameters(), lr, weight_decay)
    steps_per_epoch = math.ceil(len(inputs) / batch_size)
    sched = linear_warmup(opt, warmup_steps, epochs * steps_per_epoch if cosine_decay else None)
    history = {"loss": []}
    ckpt = Checkpointer(eval_fn, eval_every, epochs, patience)
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="SASRec", disable=not progress)
    for epoch in bar:
        loss = train_epoch(
            model,
            opt,
            len(inputs),
            batch_size,
            gen,
            batch_loss,
            clip_norm=clip_norm,
            scheduler=sched,
            batches=length_bucketed_batches(lengths, batch_size, bucket_batches, gen),
        )
        history["loss"].append(loss)
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}")
        if ckpt.step(model, epoch):
            break
    history.update(ckpt.finish(model))
    history["wall_s"] = time.perf_counter() - start
    return history


def sasrec_score_fn(model: SASRec, seqs: list[np.ndarray], device="cpu", batch_size: int = 256):
    """A ``score_fn(user_indices) -> (B, num_items)`` for the evaluators, from each user's
    history in ``seqs`` (train for validation, train + valid for test)."""

    def score(users: np.ndarray) -> np.ndarray:
        out = []
        for b in range(0, len(users), batch_size):
            batch = left_pad([seqs[int(u)] for u in users[b : b + batch_size]], model.cfg.max_len)
            out.append(model.score(torch.from_numpy(batch).to(device)).cpu().numpy())
        return np.concatenate(out)

    return score
