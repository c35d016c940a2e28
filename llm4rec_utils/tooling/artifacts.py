"""A small cache of trained models under ``build/cache/``, so a later notebook reuses what an
earlier one trained instead of training it again.

Rebuild rule: a file is used only when its key matches, and the key hashes everything the
weights depend on: the model's config, the data split, the seed, the profile and the source
code of the model's module (its "code version"). Change any of them and the cache misses, so
the caller trains afresh; delete ``build/cache/`` to force it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np
import torch


def code_version(*objects) -> str:
    """sha256 (12 hex digits) of the source of the modules defining ``objects``."""
    h = hashlib.sha256()
    for obj in objects:
        h.update(inspect.getsource(inspect.getmodule(obj)).encode())
    return h.hexdigest()[:12]


def artifact_key(**parts) -> str:
    """A stable 16-hex-digit key of ``parts`` (dataclasses become dicts; order does not
    matter)."""
    norm = {k: asdict(v) if is_dataclass(v) else v for k, v in parts.items()}
    return hashlib.sha256(json.dumps(norm, sort_keys=True, default=str).encode()).hexdigest()[:16]


def artifact_path(cache_dir, name: str, **parts) -> Path:
    return Path(cache_dir) / f"{name}-{artifact_key(**parts)}.pt"


def save_model(
    cache_dir, name: str, model: torch.nn.Module, extras: dict | None = None, **parts
) -> Path:
    """Store ``model``'s weights under its key (write-then-rename: never half a file), with
    optional ``extras`` (e.g. the model's test scores) that :func:`read_extras` returns."""
    path = artifact_path(cache_dir, name, **parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    extras = {k: torch.as_tensor(np.asarray(v)) for k, v in (extras or {}).items()}  # arrays
    payload = {"state_dict": model.state_dict(), "parts": repr(parts), "extras": extras}
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as f:
        torch.save(payload, f)
    os.replace(f.name, path)
    return path


def load_model(cache_dir, name: str, model: torch.nn.Module, **parts) -> Path | None:
    """Load the cached weights into ``model`` if an artefact with this key exists; the path it
    came from, or None on a miss."""
    path = artifact_path(cache_dir, name, **parts)
    if not path.exists():
        return None
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])
    return path


def read_extras(path) -> dict:
    """The ``extras`` stored with a cached model, as NumPy arrays (empty if none)."""
    extras = torch.load(path, map_location="cpu", weights_only=True).get("extras", {})
    return {k: v.numpy() for k, v in extras.items()}


def frame_fingerprint(frame, columns=None) -> str:
    """sha256 (16 hex digits) of a data frame's rows (``columns``, default all), in order: the
    "data split" part of a key, so a model trained on other rows misses the cache."""
    import pandas as pd

    frame = frame if columns is None else frame[list(columns)]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
