"""File helpers shared by the data fetcher and every cache: digests, atomic writes, checked
cache files and safe archive extraction.

Every write that must never leave half a file goes through :func:`atomic_path` (write to a
temporary file in the same folder, rename over the target; the temporary file is removed if
the write fails). A cache file that a later run trusts is written with :func:`write_checked`,
which puts its sha256 beside it (``<file>.sha256``); :func:`checked_file` verifies it before use
and removes a damaged or unverifiable file so the caller rebuilds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _process_start() -> float:
    try:
        import psutil

        return psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - no psutil or no /proc: the import time is close enough
        return time.time()


PROCESS_START = _process_start()  # a .tmp file older than this was left by a crashed writer
STALE_TMP_GRACE_S = 60.0  # ... and one written to in the last minute may still be in use


class ChecksumError(ValueError):
    """A file's digest differs from the expected one."""


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the destination folder."""


class ArchiveContentError(ValueError):
    """An archive lacks the members it should hold."""


class DamagedCacheWarning(UserWarning):
    """A cached file failed its checksum (or could not be read) and was removed."""


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(path: str | os.PathLike, expected: str, algorithm: str = "sha256") -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the expected digest."""
    got = file_digest(path, algorithm)
    if got != expected:
        raise ChecksumError(
            f"{Path(path).name}: {algorithm} is {got}, expected {expected}. The file is corrupted "
            "or truncated, or it is a different release; delete it and fetch again."
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on any
    failure it is removed, so ``path`` is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, mode)  # mkstemp makes 0600 files; caches are plain data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def clean_stale_tmp(folder: str | os.PathLike) -> list[Path]:
    """Remove the ``*.tmp`` files in ``folder`` that a crashed writer left behind: those last
    written before this process started (and over a minute ago, so a live writer in another
    process keeps its file). Returns the removed paths."""
    folder = Path(folder)
    cutoff = min(PROCESS_START, time.time() - STALE_TMP_GRACE_S)
    removed = []
    for tmp in folder.glob("*.tmp") if folder.is_dir() else ():
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # gone already (another process cleaned it), or not ours to remove
            pass
    return removed


def write_checked(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a cache file with ``write(tmp_path)``, atomically, and its sha256 beside it.

    Stale ``.tmp`` files in the same folder (see :func:`clean_stale_tmp`) are removed first."""
    path = Path(path)
    clean_stale_tmp(path.parent)
    with atomic_path(path) as tmp:
        write(tmp)
        digest = file_digest(tmp)
    atomic_write_bytes(_sidecar(path), f"{digest}  {path.name}\n".encode())
    return path


def remove_checked(path: str | os.PathLike) -> None:
    """Remove a cache file and its checksum."""
    path = Path(path)
    path.unlink(missing_ok=True)
    _sidecar(path).unlink(missing_ok=True)


def checked_file(path: str | os.PathLike) -> Path | None:
    """``path`` if it exists and matches the sha256 written beside it; otherwise None.

    A file that exists but is damaged (wrong digest, no checksum file, unreadable) is removed
    with a :class:`DamagedCacheWarning` naming it, so the caller rebuilds it.
    """
    path = Path(path)
    if not path.exists():
        _sidecar(path).unlink(missing_ok=True)
        return None
    try:
        expected = _sidecar(path).read_text().split()[0]
        ok = file_digest(path) == expected
        reason = "its sha256 does not match the checksum written with it"
    except (OSError, IndexError):
        ok, reason = False, "it has no readable checksum file beside it"
    if ok:
        return path
    discard_damaged(path, reason)
    return None


def load_checked(path: str | os.PathLike, load: Callable[[Path], T]) -> T | None:
    """``load(path)`` for a cache file written by :func:`write_checked`; None on a miss.

    A missing file is a plain miss. A file whose checksum is missing or wrong, or that ``load``
    cannot read (any exception: a torch zip error, a bad ``.npy`` header, broken JSON), is
    removed with one :class:`DamagedCacheWarning` naming it and the error, and is a miss too,
    so the caller rebuilds it.
    """
    checked = checked_file(path)
    if checked is None:
        return None
    try:
        return load(checked)
    except Exception as e:  # noqa: BLE001 - whatever the reader says, the file is unusable
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        discard_damaged(checked, f"it could not be read: {type(e).__name__}: {msg}"[:300])
        return None


def discard_damaged(path: str | os.PathLike, reason: str) -> None:
    """Remove a damaged cache file (and its checksum) and say so in one warning."""
    remove_checked(path)
    warnings.warn(
        f"cache file {path} was damaged ({reason}): removed; it is rebuilt now",
        DamagedCacheWarning,
        stacklevel=3,
    )


def safe_extract(archive: str | os.PathLike, prefix: str, dest: str | os.PathLike) -> list[Path]:
    """Extract the members of a zip under ``prefix`` into ``dest`` (flattened by the prefix).

    Each member is written atomically. A member whose name would land outside ``dest``
    (``..``, absolute paths) raises :class:`UnsafeArchiveError` before anything is written.

    Returns:
        The extracted paths.
    """
    dest = Path(dest)
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        plan = []
        for info in zf.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix) :]
            target = (dest / rel).resolve()
            if rel.startswith(("/", "\\")) or not target.is_relative_to(root) or target == root:
                raise UnsafeArchiveError(
                    f"refusing to extract {info.filename!r} from {Path(archive).name}: it would be "
                    f"written outside {dest}"
                )
            plan.append((info, target))
        if not plan:
            raise ArchiveContentError(f"{Path(archive).name} holds no files under {prefix!r}")
        out = []
        for info, target in plan:
            atomic_write_bytes(target, zf.read(info))
            out.append(target)
    return out
