"""tooling.files: atomic writes leave no temporary file behind, checked cache files are
verified before use, and a damaged one is named, removed and reported as a miss."""

import os
import time
import warnings

import pytest

from llm4rec_utils.tooling import files
from llm4rec_utils.tooling.files import (
    DamagedCacheWarning,
    atomic_path,
    checked_file,
    clean_stale_tmp,
    load_checked,
    write_checked,
)


def _write(data: bytes):
    return lambda tmp: tmp.write_bytes(data)


def test_a_failing_writer_leaves_neither_the_target_nor_a_tmp(tmp_path):
    target = tmp_path / "cache" / "model.pt"
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("disk full")
    assert not target.exists() and os.listdir(target.parent) == []

    def boom(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt  # an interrupted kernel too

    with pytest.raises(KeyboardInterrupt):
        write_checked(target, boom)
    assert os.listdir(target.parent) == []


def test_an_intact_checked_file_is_used_silently(tmp_path):
    path = write_checked(tmp_path / "a.bin", _write(b"payload"))
    assert (tmp_path / "a.bin.sha256").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checked_file(path) == path
        assert load_checked(path, lambda p: p.read_bytes()) == b"payload"
    assert load_checked(tmp_path / "absent.bin", lambda p: p.read_bytes()) is None  # plain miss


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(b"payloaX"), "does not match"),  # a flipped byte
        (lambda p: p.write_bytes(b"pay"), "does not match"),  # truncated
        (lambda p: (p.parent / (p.name + ".sha256")).unlink(), "no readable checksum"),
        (lambda p: (p.parent / (p.name + ".sha256")).write_text(""), "no readable checksum"),
    ],
    ids=["flipped", "truncated", "no-sidecar", "empty-sidecar"],
)
def test_a_damaged_checked_file_is_named_removed_and_a_miss(tmp_path, damage, reason):
    path = write_checked(tmp_path / "a.bin", _write(b"payload"))
    damage(path)
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*{reason}.*rebuilt") as rec:
        assert load_checked(path, lambda p: p.read_bytes()) is None
    assert len(rec) == 1
    assert not path.exists() and not (tmp_path / "a.bin.sha256").exists()
    write_checked(path, _write(b"rebuilt"))  # the caller rebuilds it, and it is used again
    assert load_checked(path, lambda p: p.read_bytes()) == b"rebuilt"


def test_a_file_its_reader_rejects_is_named_removed_and_a_miss(tmp_path):
    path = write_checked(tmp_path / "a.json", _write(b"{not json"))  # checksum fine, content not

    def read(p):
        import json

        return json.loads(p.read_text())

    with pytest.warns(DamagedCacheWarning, match=r"a\.json.*could not be read: JSONDecodeError"):
        assert load_checked(path, read) is None
    assert not path.exists() and not (tmp_path / "a.json.sha256").exists()


def test_stale_tmp_files_of_a_crashed_writer_are_cleaned_on_the_next_write(tmp_path):
    stale = tmp_path / ".model.pt.abc123.tmp"  # atomic_path's name, left by a killed process
    legacy = tmp_path / "tmpq1w2e3.tmp"  # NamedTemporaryFile's, from before atomic_path
    fresh = tmp_path / ".other.pt.xyz.tmp"  # another live process writing right now
    for p in (stale, legacy, fresh):
        p.write_bytes(b"half")
    old = files.PROCESS_START - 3600
    os.utime(stale, (old, old))
    os.utime(legacy, (old, old))
    write_checked(tmp_path / "model.pt", _write(b"new"))
    assert not stale.exists() and not legacy.exists()
    assert fresh.exists()  # written after this process started: not ours to judge
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.pt.xyz.tmp",
        "model.pt",
        "model.pt.sha256",
    ]
    assert clean_stale_tmp(tmp_path / "no-such-folder") == []


def test_a_tmp_written_in_the_last_minute_survives_even_if_older_than_the_process(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(files, "PROCESS_START", time.time())  # this process started just now
    busy = tmp_path / ".x.tmp"
    busy.write_bytes(b"being written")
    recent = time.time() - 5
    os.utime(busy, (recent, recent))
    assert clean_stale_tmp(tmp_path) == [] and busy.exists()
