"""The data layer, offline: parsers on tiny fixture files, fetching with fake sources."""

import hashlib
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from llm4rec_utils import data as D
from llm4rec_utils.tooling import files as F

INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "1\t10\t4\t881250949\n2\t11\t1\t881250950\n"
)
ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "10\tToy Story\t1995\tAnimation Children's Comedy\n11\tunkonwn\tunkonwn\tunknown\n"
)
USER = (
    "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n"
)
KG = "head_id:token\trelation_id:token\ttail_id:token\nm.1\tfilm.film.actor\tm.2\n"
LINK = "item_id:token\tentity_id:token\n10\tm.1\n"
FILES = {
    "ml-100k.inter": INTER,
    "ml-100k.item": ITEM,
    "ml-100k.user": USER,
    "ml-100k.kg": KG,
    "ml-100k.link": LINK,
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_recbole_parsers(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    r = D.parse_recbole_inter(tmp_path / "ml-100k.inter")
    assert r.dtypes.to_dict() == {
        "user_id": "int32",
        "item_id": "int32",
        "rating": "float32",
        "timestamp": "int64",
    }
    assert r.rating.tolist() == [4.0, 1.0]
    items = D.parse_recbole_item(tmp_path / "ml-100k.item")
    assert items.genres[0] == ("Animation", "Children's", "Comedy")
    assert items.title[1] == "unknown" and pd.isna(items.year[1])
    users = D.parse_recbole_user(tmp_path / "ml-100k.user")
    assert users.zip_code.tolist() == ["85711", "94043"] and users.age.tolist() == [24, 53]
    kg = D.parse_recbole_kg(tmp_path / "ml-100k.kg")
    assert kg.iloc[0].tolist() == ["m.1", "film.film.actor", "m.2"]
    assert D.parse_recbole_link(tmp_path / "ml-100k.link").entity_id.tolist() == ["m.1"]


def test_grouplens_parsers(tmp_path):
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n")
    flags = "|".join(["0"] * 3 + ["1"] + ["0"] * 15)
    (tmp_path / "u.item").write_bytes(
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n".encode("latin-1")
        + "2|Café au lait (1994)|01-Jan-1994||http://y|".encode("latin-1")
        + "|".join(["1"] + ["0"] * 18).encode()
        + b"\n"
    )
    (tmp_path / "u.user").write_text("1|24|M|technician|85711\n")
    r = D.parse_grouplens_ratings(tmp_path / "u.data")
    assert r.iloc[0].tolist() == [196, 242, 3.0, 881250949]
    items = D.parse_grouplens_items(tmp_path / "u.item")
    assert items.title.tolist() == ["Toy Story", "Café au lait"]
    assert items.year.tolist() == [1995, 1994]
    assert items.genres.tolist() == [("Animation",), ("unknown",)]
    assert D.parse_grouplens_users(tmp_path / "u.user").occupation[0] == "technician"


def make_wheel(path: Path, extra: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in FILES.items():
            zf.writestr(D.RECBOLE_PREFIX + name, text)
        zf.writestr("recbole/__init__.py", "raise ImportError('never imported')")
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return path


@pytest.fixture
def fake_recbole(monkeypatch, tmp_path):
    """Point the fetcher at a tiny fake wheel, offered by a fake `pip download`."""
    (tmp_path / "src").mkdir()
    wheel = make_wheel(tmp_path / "src" / D.RECBOLE_WHEEL)
    monkeypatch.setattr(D, "RECBOLE_WHEEL_SHA256", F.file_digest(wheel))
    monkeypatch.setattr(D, "RECBOLE_FILES", {n: sha(t) for n, t in FILES.items()})
    calls = []

    def fake_pip(dest, timeout=None):
        calls.append(dest)
        target = Path(dest) / D.RECBOLE_WHEEL
        target.write_bytes(wheel.read_bytes())
        return target

    def no_http(url, dest, timeout=60):
        raise OSError("network unreachable")

    monkeypatch.setattr(D, "_pip_download_recbole", fake_pip)
    monkeypatch.setattr(D, "_http_download", no_http)
    return calls


def test_fetch_extracts_only_the_dataset_and_writes_a_manifest(fake_recbole, tmp_path):
    files = D.fetch_movielens_100k(tmp_path / "data")
    assert files.layout == "recbole" and len(fake_recbole) == 1
    names = sorted(p.name for p in files.folder.iterdir())
    assert names == sorted([*FILES, D.MANIFEST])
    assert not list((tmp_path / "data").rglob("*.part")), "no temporary files left behind"
    # second call: served from the cache, no download
    D.fetch_movielens_100k(tmp_path / "data")
    assert len(fake_recbole) == 1


def test_corrupted_or_truncated_cache_is_fetched_again(fake_recbole, tmp_path):
    files = D.fetch_movielens_100k(tmp_path / "data")
    inter = files.folder / "ml-100k.inter"
    inter.write_text(INTER[:-10])  # truncated
    D.fetch_movielens_100k(tmp_path / "data")
    assert len(fake_recbole) == 2 and inter.read_text() == INTER
    inter.write_text(INTER.replace("4", "5"))  # same size, different bytes
    D.fetch_movielens_100k(tmp_path / "data")
    assert len(fake_recbole) == 3 and inter.read_text() == INTER


def test_wheel_with_wrong_checksum_is_refused(monkeypatch, fake_recbole, tmp_path):
    monkeypatch.setattr(D, "RECBOLE_WHEEL_SHA256", "0" * 64)
    with pytest.raises(D.DataUnavailableError, match="ChecksumError"):
        D.fetch_movielens_100k(tmp_path / "data")
    assert not (tmp_path / "data" / D.RECBOLE_CACHE / D.MANIFEST).exists()


def test_unsafe_archive_paths_are_refused(tmp_path):
    evil = make_wheel(tmp_path / "evil.whl", {D.RECBOLE_PREFIX + "../../escaped.txt": "x"})
    with pytest.raises(F.UnsafeArchiveError, match="outside"):
        F.safe_extract(evil, D.RECBOLE_PREFIX, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_no_cache_and_no_source_names_what_was_tried_and_the_fix(monkeypatch, tmp_path):
    def fail_pip(dest, timeout=None):
        raise OSError("pip download failed (exit 1): no index reachable")

    def fail_http(url, dest, timeout=60):
        raise OSError("network unreachable")

    monkeypatch.setattr(D, "_pip_download_recbole", fail_pip)
    monkeypatch.setattr(D, "_http_download", fail_http)
    with pytest.raises(D.DataUnavailableError) as err:
        D.fetch_movielens_100k(tmp_path / "empty")
    msg = str(err.value)
    for expected in [
        "pip download --no-deps recbole==1.2.1",
        D.GROUPLENS_URL,
        "Fix:",
        D.RECBOLE_WHEEL,
        D.GROUPLENS_ZIP,
        str(tmp_path / "empty"),
    ]:
        assert expected in msg
    assert not any((tmp_path / "empty").rglob("*.inter"))


def test_wheel_placed_by_hand_is_used(monkeypatch, fake_recbole, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    make_wheel(d / D.RECBOLE_WHEEL)
    monkeypatch.setattr(D, "RECBOLE_WHEEL_SHA256", F.file_digest(d / D.RECBOLE_WHEEL))
    files = D.fetch_movielens_100k(d)
    assert files.source == "recbole wheel (by hand)" and not fake_recbole


def test_data_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM4REC_DATA_DIR", str(tmp_path / "elsewhere"))
    assert D.resolve_data_dir(None) == tmp_path / "elsewhere"
    assert D.resolve_data_dir("") == tmp_path / "elsewhere"
    assert D.resolve_data_dir(tmp_path) == tmp_path


def test_validation_rejects_wrong_counts(fake_recbole, tmp_path):
    with pytest.raises(D.DataValidationError, match="expected 100000"):
        D.load_movielens_100k(tmp_path / "data")  # the fake files hold 2 ratings


def test_corrupt_cache_file_is_named_when_no_source_is_left(monkeypatch, fake_recbole, tmp_path):
    files = D.fetch_movielens_100k(tmp_path / "data")
    (files.folder / "ml-100k.inter").write_text(INTER.replace("4", "5"))  # same size

    def fail_pip(dest, timeout=None):
        raise OSError("pip download failed (exit 1): connection refused")

    monkeypatch.setattr(D, "_pip_download_recbole", fail_pip)
    with pytest.raises(D.DataUnavailableError) as err:
        D.fetch_movielens_100k(tmp_path / "data")
    assert "ml-100k.inter fails its sha256 check" in str(err.value)
    assert "connection refused" in str(err.value)


def test_pip_failure_keeps_the_real_reason():
    output = """WARNING: Retrying (Retry(total=0)) after connection broken by
'NewConnectionError: Failed to establish a new connection: [Errno 111] Connection refused'
ERROR: Could not find a version that satisfies the requirement recbole==1.2.1 (from versions: none)
ERROR: No matching distribution found for recbole==1.2.1"""
    reason = D.pip_failure_reason(output)
    assert "Connection refused" in reason and "No matching distribution" in reason
    assert D.pip_failure_reason("") == "no output"


def test_the_whole_fetch_has_a_time_limit(monkeypatch, tmp_path):
    import time

    def slow_pip(dest, timeout=None):
        assert timeout is not None and timeout <= 1.0  # the limit reaches pip
        time.sleep(1.1)
        raise OSError("pip download gave no answer")

    def never_called(url, dest, timeout=60):
        raise AssertionError("a source was started after the limit")

    monkeypatch.setattr(D, "_pip_download_recbole", slow_pip)
    monkeypatch.setattr(D, "_http_download", never_called)
    with pytest.raises(D.DataUnavailableError, match="limit of 1 s was used up"):
        D.fetch_movielens_100k(tmp_path / "empty", timeout_s=1.0)


# --------------------------------------------------------------------------- fetch limits


class TrickleServer:
    """A local HTTP server that promises ``size`` bytes and sends one every ``every`` s."""

    def __init__(self, size=1000, every=0.2):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.flush()
                try:
                    for _ in range(size):
                        if outer.stop.wait(every):
                            return
                        self.wfile.write(b"x")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ml-100k.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def trickle():
    s = TrickleServer()
    yield s
    s.close()


def test_a_trickling_download_stops_at_the_limit(trickle, tmp_path):
    import time

    dest = tmp_path / "dl" / "ml-100k.zip"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not finish within the limit of 1 s \(\d+ bytes"):
        D._http_download(trickle.url, dest, 1.0)  # per-read timeouts never trip: a byte/0.2 s
    assert time.monotonic() - start < 2.0
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # no half file, no .tmp


def test_the_fetch_limit_bounds_the_grouplens_download(monkeypatch, trickle, tmp_path):
    import time

    def no_pip(dest, timeout=None):
        raise OSError("pip download failed (exit 1): no index reachable")

    monkeypatch.setattr(D, "_pip_download_recbole", no_pip)
    monkeypatch.setattr(D, "GROUPLENS_URL", trickle.url)
    monkeypatch.setenv("LLM4REC_FETCH_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(D.DataUnavailableError, match=r"TimeoutError: .*within the limit of 1 s"):
        D.fetch_movielens_100k(tmp_path / "empty")
    assert time.monotonic() - start < 2.0


def test_a_complete_download_arrives_whole(tmp_path):
    fast = TrickleServer(size=5, every=0.0)
    try:
        assert D._http_download(fast.url, tmp_path / "f.zip", 5.0).read_bytes() == b"xxxxx"
    finally:
        fast.close()


@pytest.mark.parametrize("value", ["abc", "inf", "-1", "0", "nan", "1e400"])
def test_a_bad_fetch_timeout_is_one_line_naming_the_variable(monkeypatch, tmp_path, value):
    monkeypatch.setenv("LLM4REC_FETCH_TIMEOUT", value)
    with pytest.raises(
        ValueError, match=r"LLM4REC_FETCH_TIMEOUT.*e\.g\. LLM4REC_FETCH_TIMEOUT=300"
    ) as e:
        D.fetch_movielens_100k(tmp_path / "empty")
    assert "\n" not in str(e.value) and repr(value) in str(e.value)
    with pytest.raises(ValueError, match="timeout_s must be a positive"):
        D.fetch_movielens_100k(tmp_path / "empty", timeout_s=float(value) if value != "abc" else -1)


def test_fetch_timeout_values():
    assert D.fetch_timeout_s(" 20 ") == 20.0
    assert D.fetch_timeout_s(2.5) == 2.5


def test_the_data_command_fails_in_one_line_with_exit_code_2(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LLM4REC_FETCH_TIMEOUT": "abc", "LLM4REC_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "llm4rec_utils.data"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "LLM4REC_FETCH_TIMEOUT" in lines[0] and "LLM4REC_FETCH_TIMEOUT=300" in lines[0]


def test_an_unavailable_data_set_is_one_line_too(monkeypatch, capsys):
    def unavailable(data_dir=None):
        raise D.DataUnavailableError("not cached. Tried, in order:\n  - a: x\n  - b: y\nFix: z")

    monkeypatch.setattr(D, "load_movielens_100k", unavailable)
    assert D.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Tried, in order: - a: x - b: y Fix: z" in err
