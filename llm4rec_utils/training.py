"""Model selection during training, shared by every training loop in the package."""

from __future__ import annotations

import math
from collections.abc import Callable

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
) -> float:
    """One pass over ``n`` examples in a random order: ``batch_loss(indices)`` gives the loss of
    a mini-batch; Adam-style step (optional gradient clipping and scheduler). Returns the mean
    loss per example."""
    model.train()
    order = torch.randperm(n, generator=generator)
    total = 0.0
    for b in range(0, n, batch_size):
        idx = order[b : b + batch_size]
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


def linear_warmup(opt: torch.optim.Optimizer, warmup_steps: int):
    """Scale the learning rate linearly from 1/warmup_steps to 1 over the first steps (seed
    003's advice for fine-tuning), then keep it constant. ``None`` when ``warmup_steps <= 0``."""
    if warmup_steps <= 0:
        return None
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup_steps))
