"""The PEFT family on one encoder: LoRA, IA³, AdaLoRA and prefix tuning, built with ``peft``.

Each method's trainable-parameter count is also derived by formula (:func:`adapter_param_formula`)
so a notebook can assert that peft trains exactly what the text says. Every method trains the
same task head (:data:`HEAD_MODULES`, peft's ``modules_to_save``), so a comparison between
methods compares the adapters, not the heads.

- Hu et al. (2022), LoRA. Liu et al. (2022), IA³. Zhang et al. (2023), "Adaptive Budget
  Allocation for Parameter-Efficient Fine-Tuning" (AdaLoRA). Li and Liang (2021), "Prefix-Tuning:
  Optimizing Continuous Prompts for Generation".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

METHODS = ("lora", "ia3", "adalora", "prefix")
# BERT's classification head: the pooler (dense 384 x 384 + tanh on [CLS]) and the output layer
HEAD_MODULES = ("classifier", "pooler")


@dataclass(frozen=True)
class AdapterSpec:
    """One PEFT method and its size. ``r`` is LoRA's rank and AdaLoRA's *target* average rank;
    AdaLoRA starts every adapted matrix at ``init_r`` and prunes singular values down to ``r``."""

    method: str
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    targets: tuple[str, ...] = ("query", "value")  # LoRA and AdaLoRA
    init_r: int = 12  # AdaLoRA
    ia3_targets: tuple[str, ...] = ("key", "value", "output.dense")
    ia3_feedforward: tuple[str, ...] = ("output.dense",)  # scaled on their *input* side
    virtual_tokens: int = 16  # prefix tuning: learned key/value vectors per layer
    head: tuple[str, ...] = HEAD_MODULES
    orth_reg_weight: float = 0.5  # AdaLoRA's orthogonality penalty (peft's default)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown PEFT method {self.method!r}: use one of {METHODS}")
        if self.r <= 0 or self.init_r < self.r or self.virtual_tokens <= 0:
            raise ValueError("need r > 0, init_r >= r and virtual_tokens > 0")


def _matches(name: str, targets: Sequence[str]) -> bool:
    """peft's rule for a ``target_modules`` list: the module's name is a target or ends with
    ``"." + target``."""
    return any(name == t or name.endswith("." + t) for t in targets)


def _linears(model: nn.Module, targets: Sequence[str]):
    found = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and _matches(n, targets)
    ]
    if not found:
        raise ValueError(f"no nn.Linear named {list(targets)} in the model")
    return found


def head_param_count(model: nn.Module, head: Sequence[str] = HEAD_MODULES) -> int:
    """Parameters of the head modules (the top-level modules whose name ends with a head name)."""
    total, seen = 0, set()
    for name, module in model.named_modules():
        if _matches(name, head) and not any(name.startswith(s + ".") for s in seen):
            seen.add(name)
            total += sum(p.numel() for p in module.parameters())
    if not seen:
        raise ValueError(f"no module named {list(head)} in the model")
    return total


def adapter_param_formula(model: nn.Module, spec: AdapterSpec) -> int:
    """The adapter's own trainable parameters (head excluded), by formula, on the *base* model.

    - LoRA: ``r (d_in + d_out)`` per adapted linear map (A is r x d_in, B is d_out x r).
    - AdaLoRA: ``init_r (d_in + d_out) + init_r`` per map: P, Q and the singular values E.
    - IA³: one vector per adapted map, ``d_out`` long (``d_in`` for feed-forward maps, which
      are scaled on their input).
    - prefix tuning: ``virtual_tokens x layers x 2 x hidden`` (a key and a value per layer).
    """
    if spec.method == "lora":
        return sum(
            spec.r * (m.in_features + m.out_features) for _, m in _linears(model, spec.targets)
        )
    if spec.method == "adalora":
        return sum(
            spec.init_r * (m.in_features + m.out_features + 1)
            for _, m in _linears(model, spec.targets)
        )
    if spec.method == "ia3":
        return sum(
            m.in_features if _matches(n, spec.ia3_feedforward) else m.out_features
            for n, m in _linears(model, spec.ia3_targets)
        )
    cfg = model.config
    return spec.virtual_tokens * cfg.num_hidden_layers * 2 * cfg.hidden_size


def peft_config(spec: AdapterSpec, total_steps: int = 0):
    """The ``peft`` config for ``spec`` on a sequence-classification model. AdaLoRA needs the
    run's ``total_steps``: it keeps all ``init_r`` ranks for the first 15% of steps, prunes to
    ``r`` on average by the end of the middle part, and trains the final ranks for the last 25%."""
    from peft import AdaLoraConfig, IA3Config, LoraConfig, PrefixTuningConfig, TaskType

    common = {"task_type": TaskType.SEQ_CLS, "modules_to_save": list(spec.head)}
    if spec.method == "lora":
        return LoraConfig(
            r=spec.r,
            lora_alpha=spec.alpha,
            lora_dropout=spec.dropout,
            target_modules=list(spec.targets),
            **common,
        )
    if spec.method == "adalora":
        if total_steps < 1:
            raise ValueError(f"AdaLoRA needs the run's total_steps (>= 1), got {total_steps}")
        return AdaLoraConfig(
            init_r=spec.init_r,
            target_r=spec.r,
            lora_alpha=spec.alpha,
            lora_dropout=spec.dropout,
            target_modules=list(spec.targets),
            total_step=total_steps,
            tinit=int(0.15 * total_steps),
            tfinal=int(0.25 * total_steps),
            deltaT=max(1, total_steps // 20),
            orth_reg_weight=spec.orth_reg_weight,
            **common,
        )
    if spec.method == "ia3":
        return IA3Config(
            target_modules=list(spec.ia3_targets),
            feedforward_modules=list(spec.ia3_feedforward),
            **common,
        )
    return PrefixTuningConfig(num_virtual_tokens=spec.virtual_tokens, **common)


def build_adapter(base: nn.Module, spec: AdapterSpec, total_steps: int = 0):
    """Wrap ``base`` (a freshly loaded classifier) with the method; returns the peft model."""
    from peft import get_peft_model

    return get_peft_model(base, peft_config(spec, total_steps))


def orthogonality_penalty(model: nn.Module) -> torch.Tensor:
    """AdaLoRA's regulariser: the mean over its P (``lora_A``) and Q (``lora_B``) matrices of
    ``||P Pᵀ - I||_F`` and ``||QᵀQ - I||_F``, which keeps them close to orthonormal so that
    E holds the singular values."""
    terms = []
    for name, p in model.named_parameters():
        if p.requires_grad and ("lora_A" in name or "lora_B" in name):
            cov = p @ p.T if "lora_A" in name else p.T @ p
            eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
            terms.append(torch.linalg.matrix_norm(cov - eye))
    if not terms:
        raise ValueError("the model has no trainable lora_A / lora_B matrices")
    return torch.stack(terms).mean()


def training_hooks(model: nn.Module, spec: AdapterSpec) -> dict[str, Callable]:
    """Extra arguments for :func:`llm4rec_utils.finetune.finetune_text_model`: AdaLoRA adds its
    orthogonality penalty to the loss and re-allocates ranks after every optimiser step (peft's
    ``update_and_allocate``); the other methods need nothing."""
    if spec.method != "adalora":
        return {}
    return {
        "extra_loss": lambda m: spec.orth_reg_weight * orthogonality_penalty(m),
        "step_hook": model.base_model.update_and_allocate,
    }


def adalora_ranks(model: nn.Module) -> dict[str, int]:
    """The rank each AdaLoRA matrix keeps: peft's ``rank_pattern`` (which singular values
    survive) once a budget has been allocated, else ``init_r`` everywhere."""
    cfg = model.peft_config[model.active_adapter]
    if cfg.rank_pattern:
        return {name: int(sum(keep)) for name, keep in cfg.rank_pattern.items()}
    return {
        name.removesuffix(".lora_E.default"): cfg.init_r
        for name, _ in model.named_parameters()
        if "lora_E" in name
    }
