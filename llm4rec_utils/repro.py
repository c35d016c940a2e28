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
