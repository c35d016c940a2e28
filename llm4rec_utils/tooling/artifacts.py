"""A small cache of trained models under ``build/cache/``, so a later notebook reuses what an
earlier one trained instead of training it again.

Rebuild rule: a file is used only when its key matches, and the key hashes everything the
weights depend on: the model's config, the data split, the seed, the profile, the training
settings and the source code of the model's module and of every package module it imports
(its "code version"). Change any of them and the cache misses, so the caller trains afresh;
delete ``build/cache/`` to force it.

Integrity rule: every file is written with its sha256 beside it (``<file>.sha256``, see
:mod:`.files`) and verified before it is loaded; a damaged, truncated or unverifiable file is
named in one :class:`~.files.DamagedCacheWarning`, removed, and reported as a miss, so the
caller trains again instead of using wrong weights.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np
import torch

from .files import load_checked, write_checked

PACKAGE = __name__.split(".")[0]  # "llm4rec_utils"


def _module_file(name: str) -> Path | None:
    """The source file of package module ``name`` (without importing it), or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported_modules(name: str, path: Path) -> set[str]:
    """The package modules that module ``name`` (source at ``path``) imports, anywhere in it
    (function-level imports included)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if _module_file(f"{mod}.{a.name}")]
            found.update(subs)
            if len(subs) < len(node.names):  # some names are attributes of ``mod`` itself
                found.add(mod)
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")} - _NOT_CODE


# The cache machinery itself: a module that calls code_version imports it, but no weights depend
# on how they are stored (a change of format fails the load and is a miss anyway).
_NOT_CODE = {__name__, __name__.rpartition(".")[0] + ".files"}


def code_modules(*objects) -> list[str]:
    """The package modules whose source :func:`code_version` hashes: the modules defining
    ``objects`` and every ``llm4rec_utils`` module they import, transitively (the tooling only
    where something imports it; third-party code is the environment's business)."""
    todo = [inspect.getmodule(obj).__name__ for obj in objects]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        todo.extend(_imported_modules(name, path) - seen.keys())
    return sorted(seen)


def code_version(*objects) -> str:
    """sha256 (12 hex digits) of the source of the modules defining ``objects`` and of every
    package module they import, transitively (see :func:`code_modules`): an edit to
    ``training.py`` changes ``code_version(SASRec)``."""
    h = hashlib.sha256()
    for name in code_modules(*objects):
        h.update(f"{name}\n".encode())
        h.update(_module_file(name).read_bytes())
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
    """Store ``model``'s weights under its key (write-then-rename: never half a file; its
    sha256 beside it), with optional ``extras`` (e.g. the model's test scores) that
    :func:`read_extras` returns."""
    path = artifact_path(cache_dir, name, **parts)
    # np.array copies: a read-only view (a pandas index) would make torch warn
    extras = {k: torch.as_tensor(np.array(v)) for k, v in (extras or {}).items()}
    payload = {"state_dict": model.state_dict(), "parts": repr(parts), "extras": extras}
    write_checked(path, lambda tmp: torch.save(payload, tmp))
    _EXTRAS.pop(str(path), None)
    return path


_EXTRAS: dict[str, tuple[tuple, dict]] = {}  # path -> (its stat, the extras load_model read)


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def _read_payload(path: Path) -> dict:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError("it holds no state_dict")
    return payload


def load_model(cache_dir, name: str, model: torch.nn.Module, **parts) -> Path | None:
    """Load the cached weights into ``model`` if an artefact with this key exists and passes
    its checksum; the path it came from, or None on a miss (a damaged file is removed with a
    :class:`~.files.DamagedCacheWarning` and is a miss: train again)."""
    path = artifact_path(cache_dir, name, **parts)
    payload = load_checked(path, _read_payload)
    if payload is None:
        return None
    model.load_state_dict(payload["state_dict"])
    extras = {k: v.numpy() for k, v in payload.get("extras", {}).items()}
    _EXTRAS[str(path)] = (_stat_key(path), extras)
    return path


def read_extras(path) -> dict:
    """The ``extras`` stored with a cached model, as NumPy arrays (empty if none, or if the
    file turns out damaged: then it is removed with a warning)."""
    path = Path(path)
    memo = _EXTRAS.get(str(path))
    if memo is not None and path.exists() and memo[0] == _stat_key(path):
        return dict(memo[1])  # what load_model just read and verified
    payload = load_checked(path, _read_payload)
    if payload is None:
        return {}
    return {k: v.numpy() for k, v in payload.get("extras", {}).items()}


def frame_fingerprint(frame, columns=None) -> str:
    """sha256 (16 hex digits) of a data frame's rows (``columns``, default all), in order: the
    "data split" part of a key, so a model trained on other rows misses the cache."""
    import pandas as pd

    frame = frame if columns is None else frame[list(columns)]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
