import numpy as np
import pytest
import torch

from llm4rec_utils import sequential
from llm4rec_utils.sequential import SASRec, sasrec_ml100k_config
from llm4rec_utils.tooling.artifacts import (
    artifact_key,
    artifact_path,
    code_version,
    load_model,
    read_extras,
    save_model,
)
from llm4rec_utils.tooling.files import DamagedCacheWarning


def parts(cfg, **kw):
    base = dict(
        config=cfg, split="loo-full", seed=0, profile="smoke", code=code_version(sequential.SASRec)
    )
    return {**base, **kw}


def test_a_cached_model_loads_back_identical(tmp_path):
    cfg = sasrec_ml100k_config(50)
    torch.manual_seed(0)
    model = SASRec(cfg)
    save_model(tmp_path, "sasrec", model, **parts(cfg))
    torch.manual_seed(1)
    other = SASRec(cfg)
    assert load_model(tmp_path, "sasrec", other, **parts(cfg)) is not None
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not list(tmp_path.glob("*.tmp"))


def test_any_change_misses_the_cache(tmp_path):
    cfg = sasrec_ml100k_config(50)
    save_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg))
    changed = sasrec_ml100k_config(50, future_items=3)
    assert load_model(tmp_path, "sasrec", SASRec(changed), **parts(changed)) is None
    assert load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg, seed=1)) is None
    assert load_model(tmp_path, "sasrec", SASRec(cfg), **{**parts(cfg), "code": "edited"}) is None
    assert load_model(tmp_path, "gpt-rec", SASRec(cfg), **parts(cfg)) is None
    assert artifact_key(a=1, b=2) == artifact_key(b=2, a=1)


def test_extras_travel_with_the_model(tmp_path):
    cfg = sasrec_ml100k_config(50)
    scores, index = np.array([0.5, -1.25], dtype=np.float32), np.array([7, 3])
    extras = {"scores": scores, "index": index}
    path = save_model(tmp_path, "sasrec", SASRec(cfg), extras, **parts(cfg))
    extras = read_extras(load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg)))
    np.testing.assert_array_equal(extras["scores"], scores)
    np.testing.assert_array_equal(extras["index"], index)
    assert read_extras(save_model(tmp_path, "bare", SASRec(cfg), **parts(cfg))) == {}
    assert path.exists()


def test_the_tallrec_key_changes_with_recipe_profile_seed_and_base():
    from llm4rec_utils.finetune import tallrec_cache_parts, tallrec_full_config

    cfg = tallrec_full_config("full")
    key = artifact_key(**tallrec_cache_parts(cfg, "", "full", 42))
    assert key == artifact_key(**tallrec_cache_parts(tallrec_full_config("full"), None, "full", 42))
    changed = [
        tallrec_cache_parts(tallrec_full_config("smoke"), "", "full", 42),
        tallrec_cache_parts(cfg, "", "smoke", 42),
        tallrec_cache_parts(cfg, "", "full", 7),
        tallrec_cache_parts(cfg, "some/other-model", "full", 42),
    ]
    lr = tallrec_full_config("full")
    lr.lr = 1e-4
    changed.append(tallrec_cache_parts(lr, "", "full", 42))
    assert len({key, *(artifact_key(**p) for p in changed)}) == 6


def test_frame_fingerprint_sees_every_row_and_their_order():
    import pandas as pd

    from llm4rec_utils.tooling.artifacts import frame_fingerprint

    df = pd.DataFrame({"user": [0, 1, 2], "item": [5, 6, 7], "rating": [1.0, 2.0, 3.0]})
    assert frame_fingerprint(df) == frame_fingerprint(df.copy())
    assert frame_fingerprint(df) != frame_fingerprint(df.iloc[:2])
    assert frame_fingerprint(df) != frame_fingerprint(df.iloc[::-1])
    changed = df.assign(item=[5, 6, 8])
    assert frame_fingerprint(df) != frame_fingerprint(changed)
    assert frame_fingerprint(df, ["user"]) == frame_fingerprint(changed, ["user"])
    assert frame_fingerprint(df.set_index("user")) != frame_fingerprint(df)  # columns differ


# --------------------------------------------------------------------------- damaged caches

DAMAGE = {
    "flipped": lambda p: p.write_bytes(_flip(p.read_bytes())),
    "random": lambda p: p.write_bytes(np.random.default_rng(0).bytes(p.stat().st_size)),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "no-sidecar": lambda p: p.with_name(p.name + ".sha256").unlink(),
}


def _flip(data: bytes) -> bytes:
    mid = len(data) // 2  # inside the weights: torch would load it and give wrong numbers
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_cached_model_is_named_removed_and_retrained(tmp_path, damage):
    cfg = sasrec_ml100k_config(50)
    torch.manual_seed(0)
    path = save_model(tmp_path, "sasrec", SASRec(cfg), {"scores": np.ones(3)}, **parts(cfg))
    assert path.with_name(path.name + ".sha256").exists()
    DAMAGE[damage](path)
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*removed.*rebuilt") as rec:
        assert load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg)) is None  # a miss
    assert len(rec) == 1
    assert sorted(tmp_path.iterdir()) == []  # file and checksum gone; no .tmp
    save_model(tmp_path, "sasrec", SASRec(cfg), {"scores": np.ones(3)}, **parts(cfg))  # retrain
    again = load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg))
    assert again == path and read_extras(again)["scores"].tolist() == [1, 1, 1]


def test_a_file_torch_cannot_read_is_a_named_miss_not_a_zip_traceback(tmp_path):
    from llm4rec_utils.tooling.files import write_checked

    cfg = sasrec_ml100k_config(50)
    path = artifact_path(tmp_path, "sasrec", **parts(cfg))
    write_checked(path, lambda tmp: tmp.write_bytes(b"PK\x03\x04 not a zip"))  # checksum fine
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*could not be read"):
        assert load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg)) is None
    assert not path.exists()
    write_checked(path, lambda tmp: torch.save({"weights": 1}, tmp))  # readable, wrong layout
    with pytest.warns(DamagedCacheWarning, match="no state_dict"):
        assert load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg)) is None


def test_read_extras_on_a_damaged_file_warns_and_is_empty(tmp_path):
    cfg = sasrec_ml100k_config(50)
    path = save_model(tmp_path, "sasrec", SASRec(cfg), {"scores": np.ones(2)}, **parts(cfg))
    DAMAGE["truncated"](path)
    with pytest.warns(DamagedCacheWarning, match=path.name):
        assert read_extras(path) == {}


def test_a_crashed_save_leaves_no_tmp_and_stale_ones_are_cleaned(tmp_path, monkeypatch):
    import os

    from llm4rec_utils.tooling import files

    cfg = sasrec_ml100k_config(50)

    def dies(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(OSError, match="no space"):
        save_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    stale = tmp_path / "tmpab12cd.tmp"  # what a killed writer left before atomic_path
    stale.write_bytes(b"half")
    old = files.PROCESS_START - 600
    os.utime(stale, (old, old))
    save_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg))
    assert not list(tmp_path.glob("*.tmp"))


# --------------------------------------------------------------------------- code version


def test_code_version_covers_every_package_module_the_model_imports():
    from llm4rec_utils.tooling.artifacts import code_modules

    mods = code_modules(SASRec)
    assert {"llm4rec_utils.sequential", "llm4rec_utils.attention", "llm4rec_utils.training"} <= set(
        mods
    )
    assert not [m for m in mods if m.startswith("llm4rec_utils.tooling")]  # not imported by it
    assert all(m.startswith("llm4rec_utils.") for m in mods)  # torch etc. are not hashed
    from llm4rec_utils.finetune import finetune_text_model

    assert "llm4rec_utils.repro" in code_modules(finetune_text_model)  # a function-level import


def test_editing_training_py_changes_code_version_of_sasrec(tmp_path):
    """On a copy of the package: an edit to a helper the model imports changes the key, an edit
    to a module it does not import leaves it."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import llm4rec_utils

    src = Path(llm4rec_utils.__file__).parent
    shutil.copytree(src, tmp_path / "llm4rec_utils", ignore=shutil.ignore_patterns("__pycache__"))
    script = """
import sys
from pathlib import Path
from llm4rec_utils.sequential import SASRec
from llm4rec_utils.tooling.artifacts import code_version
pkg = Path(sys.argv[1]) / "llm4rec_utils"
assert Path(sys.modules["llm4rec_utils"].__file__).parent == pkg  # the copy, not the repo
def edit(name, old, new):
    p = pkg / name
    text = p.read_text()
    assert old in text, (name, old)
    p.write_text(text.replace(old, new, 1))
before = code_version(SASRec)
edit("bandits.py", '\"\"\"', '\"\"\"Edited. ')  # SASRec does not import it
same = code_version(SASRec)
edit("training.py", "def adam(", "def adam(  # edited\\n")
after = code_version(SASRec)
print(before, same, after)
assert before == same != after
"""
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_sasrec_key_holds_its_training_recipe(tmp_path):
    """03 saves and 09 looks up SASRec under a key with the training recipe in it: a teacher who
    changes the epochs (or batch, learning rate, patience) in 03 makes 09 miss, not load it."""
    from llm4rec_utils.sequential import sasrec_ml100k_training

    cfg = sasrec_ml100k_config(50)
    recipe = sasrec_ml100k_training("smoke")
    save_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg, train=recipe))
    assert load_model(tmp_path, "sasrec", SASRec(cfg), **parts(cfg, train=recipe)) is not None
    for change in [dict(epochs=3), dict(batch_size=64), dict(lr=1e-3), dict(patience=2)]:
        changed = parts(cfg, train={**recipe, **change})
        assert load_model(tmp_path, "sasrec", SASRec(cfg), **changed) is None
    assert sasrec_ml100k_training("full")["epochs"] > sasrec_ml100k_training("smoke")["epochs"]
