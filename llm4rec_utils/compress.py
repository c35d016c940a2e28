"""Making a fine-tuned model cheaper to serve: dynamic int8 quantisation and distillation.

- Jacob et al. (2018), "Quantization and Training of Neural Networks for Efficient
  Integer-Arithmetic-Only Inference"; PyTorch's dynamic quantisation stores ``nn.Linear``
  weights as int8 and quantises activations on the fly.
- Hinton et al. (2015), "Distilling the Knowledge in a Neural Network" (a small student
  trained on the teacher's soft outputs).
"""

from __future__ import annotations

import copy
import io
import time
import warnings

import numpy as np
import torch
from torch import nn

from .progress import tqdm
from .training import adam


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantised to int8 (CPU only)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


def prune_linear(model: nn.Module, amount: float, structured: bool = False) -> nn.Module:
    """A copy of ``model`` with the weights of every hidden ``nn.Linear`` pruned by magnitude
    (``torch.nn.utils.prune``), made permanent so the copy is a plain model again.

    Unstructured: the ``amount`` share of each layer's weights with the smallest |w| become 0.
    Structured: the ``amount`` share of each layer's output rows (whole neurons) with the
    smallest L2 norm become 0. One-output layers (the classification head) are left alone.
    The zeros are stored as zeros in dense tensors: the model is no smaller and, on a CPU
    without sparse kernels, no faster, which is what measuring it shows."""
    from torch.nn.utils import prune

    if not 0.0 <= amount < 1.0:
        raise ValueError(f"amount is the share of weights to remove, in [0, 1): got {amount}")
    pruned = copy.deepcopy(model).cpu().eval()
    for module in pruned.modules():
        if isinstance(module, nn.Linear) and module.out_features > 1:
            if structured:
                prune.ln_structured(module, "weight", amount=amount, n=2, dim=0)
            else:
                prune.l1_unstructured(module, "weight", amount=amount)
            prune.remove(module, "weight")
    return pruned


def linear_sparsity(model: nn.Module) -> float:
    """Share of zero weights over the hidden ``nn.Linear`` layers :func:`prune_linear` prunes."""
    zeros = total = 0
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features > 1:
            zeros += int((module.weight == 0).sum())
            total += module.weight.numel()
    return zeros / max(total, 1)


def serialized_mb(model: nn.Module) -> float:
    """Size of the saved ``state_dict`` in MiB (what a deployment ships)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell() / 2**20


class MLPStudent(nn.Module):
    """A small student: an item embedding and dense features through a 2-layer MLP to one
    logit. Input: item ids (B,), features (B, n_features)."""

    def __init__(self, num_items: int, n_features: int, emb_dim: int = 16, hidden: int = 64):
        super().__init__()
        self.item = nn.Embedding(num_items, emb_dim)
        nn.init.normal_(self.item.weight, std=0.01)
        self.mlp = nn.Sequential(
            nn.Linear(emb_dim + n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, items: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.item(items), feats], dim=-1)).squeeze(-1)


def distill(
    student: nn.Module,
    items: np.ndarray,
    feats: np.ndarray,
    teacher_logits: np.ndarray,
    epochs: int = 30,
    lr: float = 3e-3,
    batch_size: int = 256,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
    device="cpu",
) -> dict:
    """Fit the student's logit to the teacher's logit (mean squared error on logits, the
    temperature-free form of soft-label distillation). The student is moved to ``device`` and
    trained there, its inputs with it. Returns ``loss`` per epoch and ``wall_s``."""
    if not (len(items) == len(feats) == len(teacher_logits)) or len(items) == 0:
        raise ValueError("items, feats and teacher_logits must be non-empty and equally long")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    student.to(device)  # before the optimiser takes its parameters
    it = torch.as_tensor(np.asarray(items, dtype=np.int64), device=device)
    x = torch.as_tensor(np.asarray(feats, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(teacher_logits, dtype=np.float32), device=device)
    opt = adam(student.parameters(), lr, weight_decay, decoupled=True)
    hist, start = {"loss": []}, time.perf_counter()
    for _ in tqdm(range(epochs), desc="distil", disable=not progress):
        student.train()
        order, total = torch.randperm(len(y), generator=gen), 0.0
        for b in range(0, len(y), batch_size):
            idx = order[b : b + batch_size].to(y.device)
            loss = nn.functional.mse_loss(student(it[idx], x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        hist["loss"].append(total / len(y))
    hist["wall_s"] = time.perf_counter() - start
    student.eval()
    return hist
