"""Reproducibility helpers: seeds, devices and run profiles."""

from __future__ import annotations

import os
import random

import numpy as np

from .constants import PROFILES


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and (if installed) torch, on every device.

    Args:
        seed: any non-negative integer.
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    try:
        import torch
    except ImportError:  # torch is optional for the data notebooks
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def get_device(name: str = "auto"):
    """Return a ``torch.device`` by name.

    Args:
        name: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"`` or ``"mps"``.

    Raises:
        ValueError: unknown name, or the named device is not available here.
    """
    import torch

    name = str(name).lower()
    mps_ok = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_ok:
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                "DEVICE='cuda' was asked for but torch sees no CUDA GPU "
                f"(torch {torch.__version__}). Use DEVICE='auto' or 'cpu', or install a CUDA build."
            )
        return torch.device("cuda")
    if name == "mps":
        if not mps_ok:
            raise ValueError(
                "DEVICE='mps' was asked for but Apple's MPS backend is not available here. "
                "Use DEVICE='auto' or 'cpu'."
            )
        return torch.device("mps")
    raise ValueError(f"unknown DEVICE {name!r}: use one of 'auto', 'cpu', 'cuda', 'mps'")


def check_profile(profile: str) -> str:
    """Validate a run profile and return it.

    ``smoke`` is tiny (tests, about a minute), ``full`` the real run on a 2-core CPU,
    ``gpu`` may scale a notebook up where a GPU is present.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown PROFILE {profile!r}: use one of {', '.join(PROFILES)}")
    return profile


def by_profile(profile: str, **values):
    """Pick the value for ``profile`` from keyword arguments; ``gpu`` falls back to ``full``.

    Example:
        ``epochs = by_profile(PROFILE, smoke=1, full=20)``
    """
    check_profile(profile)
    if profile in values:
        return values[profile]
    if profile == "gpu" and "full" in values:
        return values["full"]
    raise ValueError(f"no value given for profile {profile!r} (given: {sorted(values)})")


PRECISIONS = ("fp32", "bf16", "auto")


def _cpu_has_fast_bf16() -> bool:
    """True on CPUs with bfloat16 matrix instructions (Intel AMX or AVX-512 BF16), read from
    /proc/cpuinfo (Linux); False where that cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device="cpu") -> str:
    """``"fp32"`` or ``"bf16"`` for the language-model paths (fine-tuning, scoring, encoding).

    ``"auto"`` is bf16 mixed precision where the hardware multiplies bfloat16 fast (a CUDA GPU
    that supports it, a CPU with AMX or AVX-512 BF16) and fp32 elsewhere, Apple's MPS included
    (its bfloat16 autocast is no faster than fp32 on most Macs and needs macOS 14); the
    environment variable ``LLM4REC_PRECISION`` (fp32 or bf16) overrides ``"auto"``. An explicit
    ``"bf16"`` on a device that cannot run it (MPS before macOS 14, a meta tensor) falls back to
    fp32 with a warning instead of failing inside ``torch.autocast``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    import torch

    kind = torch.device(device).type
    if precision == "auto":
        forced = os.environ.get("LLM4REC_PRECISION", "")
        if forced and forced not in ("fp32", "bf16"):
            raise ValueError(f"LLM4REC_PRECISION={forced!r}: use fp32 or bf16")
        precision = forced or precision
    if precision == "fp32":
        return precision
    if precision == "bf16":
        if _bf16_autocast_runs(kind):
            return precision
        import warnings

        warnings.warn(
            f"bf16 autocast cannot run on {kind!r} here: using fp32", RuntimeWarning, stacklevel=2
        )
        return "fp32"
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if kind == "cpu" and _cpu_has_fast_bf16() else "fp32"


def _bf16_autocast_runs(kind: str) -> bool:
    """Whether ``torch.autocast(kind, dtype=torch.bfloat16)`` works on this machine."""
    import torch

    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available() and mps.is_macos_or_newer(14, 0))
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return kind == "cpu"


def autocast(precision: str, device="cpu"):
    """A context that runs matrix products in bfloat16 (weights stay fp32: mixed precision)
    when ``precision`` resolves to bf16, and changes nothing for fp32."""
    import contextlib

    import torch

    if resolve_precision(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
