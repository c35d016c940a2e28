"""Model selection during training, shared by every training loop in the package."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class Checkpointer:
    """Evaluate on validation every ``every`` epochs (and at ``last_epoch``), keep the best
    model state, and signal a stop after ``patience`` evaluations without improvement.

    Usage inside an epoch loop: ``if ckpt.step(model, epoch): break``; after the loop
    ``ckpt.finish(model)`` restores the best state. ``ckpt.history`` holds ``eval`` (a list of
    (epoch, value)), ``best`` and ``best_epoch`` (the last epoch when nothing is evaluated).
    """

    def __init__(
        self,
        eval_fn: Callable[[nn.Module], float] | None,
        every: int,
        last_epoch: int,
        patience: int | None = None,
    ):
        if every <= 0:
            raise ValueError(f"evaluation interval must be positive, got {every}")
        self.eval_fn, self.every, self.last_epoch, self.patience = (
            eval_fn,
            every,
            last_epoch,
            patience,
        )
        self.history = {"eval": [], "best": -math.inf, "best_epoch": last_epoch}
        self._state, self._bad = None, 0

    def step(self, model: nn.Module, epoch: int) -> bool:
        """Evaluate if due; return True when training should stop early."""
        if self.eval_fn is None or (epoch % self.every and epoch != self.last_epoch):
            return False
        model.eval()
        value = float(self.eval_fn(model))
        self.history["eval"].append((epoch, value))
        if value > self.history["best"]:
            self.history["best"], self.history["best_epoch"], self._bad = value, epoch, 0
            self._state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return False
        self._bad += 1
        return self.patience is not None and self._bad >= self.patience

    def finish(self, model: nn.Module) -> dict:
        """Restore the best state (if any was evaluated), switch to eval mode, return history."""
        if self._state is not None:
            model.load_state_dict(self._state)
        model.eval()
        return self.history


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    n: int,
    batch_size: int,
    generator: torch.Generator,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    clip_norm: float | None = None,
    scheduler=None,
    batches: list[torch.Tensor] | None = None,
) -> float:
    """One pass over ``n`` examples in a random order: ``batch_loss(indices)`` gives the loss of
    a mini-batch; Adam-style step (optional gradient clipping and scheduler). ``batches`` (index
    tensors covering 0..n-1 once, e.g. from :func:`length_bucketed_batches`) replaces the plain
    shuffle. Returns the mean loss per example."""
    model.train()
    if batches is None:
        order = torch.randperm(n, generator=generator)
        batches = [order[b : b + batch_size] for b in range(0, n, batch_size)]
    total = 0.0
    for idx in batches:
        loss = batch_loss(idx)
        opt.zero_grad()
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(idx)
    return total / n


def linear_warmup(opt: torch.optim.Optimizer, warmup_steps: int, total_steps: int | None = None):
    """Scale the learning rate linearly from 1/warmup_steps to 1 over the first steps (seed
    003's advice for fine-tuning), then keep it constant, or, with ``total_steps``, decay it
    along a half cosine to 0 at ``total_steps`` (a fixed budget ends on small, careful steps).
    ``None`` when there is neither warm-up nor decay."""
    if warmup_steps <= 0 and total_steps is None:
        return None
    warmup_steps = max(warmup_steps, 1)

    def factor(step: int) -> float:
        if step < warmup_steps or total_steps is None:
            return min(1.0, (step + 1) / warmup_steps)
        done = min(1.0, (step - warmup_steps) / max(total_steps - warmup_steps, 1))
        return 0.5 * (1 + math.cos(math.pi * done))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, bucket_batches: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Random mini-batches of similar length: shuffle, cut into buckets of ``bucket_batches``
    batches, sort each bucket by length, batch it, then shuffle the batch order. Padding to the
    longest member of a batch (a text, a history) then wastes little compute;
    ``bucket_batches <= 1`` is plain shuffling."""
    order = torch.randperm(len(lengths), generator=generator).numpy()
    if bucket_batches > 1:
        size = batch_size * bucket_batches
        order = np.concatenate(
            [
                chunk[np.argsort(lengths[chunk], kind="stable")]
                for chunk in np.split(order, range(size, len(order), size))
            ]
        )
    batches = [
        torch.from_numpy(order[b : b + batch_size]) for b in range(0, len(order), batch_size)
    ]
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def adam(params, lr: float, weight_decay: float = 0.0, decoupled: bool = False):
    """Adam (or AdamW with ``decoupled=True``) over the trainable ``params``, with the fused
    kernel wherever every parameter is a dense floating-point tensor on a CPU or CUDA device
    (:func:`can_fuse`; elsewhere, MPS included, torch's default implementation).

    The fused kernel computes the same update as the default per-tensor loop in one pass over
    memory: on the 2-core reference CPU an AdamW step over MiniLM's 22.7 M parameters drops from
    about 100 ms to 20 ms, a fifth of a full fine-tuning step. ``decoupled=False`` adds
    ``weight_decay`` to the gradient (L2), as ``torch.optim.Adam`` does.
    """
    params = [p for p in params if p.requires_grad]
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=weight_decay, fused=can_fuse(params) or None)


FUSED_DEVICES = ("cpu", "cuda")  # where the fused Adam kernel is used (others: torch's default)


def can_fuse(params) -> bool:
    """Whether the fused Adam kernel takes ``params``: every one a dense floating-point tensor on
    a CPU or CUDA device. Apple's MPS (whose fused Adam depends on the torch and macOS release),
    meta and other devices get torch's default implementation, with no error."""
    params = list(params)
    return bool(params) and all(
        p.is_floating_point() and not p.is_sparse and p.device.type in FUSED_DEVICES for p in params
    )
