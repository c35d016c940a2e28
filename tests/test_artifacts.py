import numpy as np
import torch

from llm4rec_utils import sequential
from llm4rec_utils.sequential import SASRec, sasrec_ml100k_config
from llm4rec_utils.tooling.artifacts import (
    artifact_key,
    code_version,
    load_model,
    read_extras,
    save_model,
)


def parts(cfg, **kw):
    base = dict(
        config=cfg, split="loo-time", seed=0, profile="smoke", code=code_version(sequential.SASRec)
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
