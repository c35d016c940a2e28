import torch

from llm4rec_utils import sequential
from llm4rec_utils.artifacts import artifact_key, code_version, load_model, save_model
from llm4rec_utils.sequential import SASRec, sasrec_ml100k_config


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
