import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from llm4rec_utils.adapters import (
    METHODS,
    AdapterSpec,
    adalora_ranks,
    adapter_param_formula,
    build_adapter,
    head_param_count,
    orthogonality_penalty,
    training_hooks,
)
from llm4rec_utils.embeddings import resolve_base_model
from llm4rec_utils.finetune import (
    FinetuneConfig,
    count_parameters,
    finetune_text_model,
    tiny_bert_classifier,
)


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(resolve_base_model(None))


def tiny_bert(vocab_size, seed=0):
    return tiny_bert_classifier(vocab_size, seed)


def test_formulas_by_hand():
    base = tiny_bert(100)
    # 2 layers x (query, value) x 4 x (32 + 32)
    assert adapter_param_formula(base, AdapterSpec("lora", r=4)) == 2 * 2 * 4 * 64
    # AdaLoRA starts at init_r = 6: P (6 x 32), Q (32 x 6), E (6) per map
    assert adapter_param_formula(base, AdapterSpec("adalora", r=4, init_r=6)) == 2 * 2 * 6 * 65
    # IA3: key 32 + value 32 + attention.output.dense 32 (input side) + output.dense 64 (input)
    assert adapter_param_formula(base, AdapterSpec("ia3")) == 2 * (32 + 32 + 32 + 64)
    assert adapter_param_formula(base, AdapterSpec("prefix", virtual_tokens=5)) == 5 * 2 * 2 * 32
    # pooler 32 x 32 + 32, classifier 32 + 1
    assert head_param_count(base) == 32 * 32 + 32 + 33


@pytest.mark.parametrize("method", METHODS)
def test_peft_trains_formula_plus_head(method):
    spec = AdapterSpec(method, r=4, init_r=6, virtual_tokens=5)
    base = tiny_bert(100)
    expected = adapter_param_formula(base, spec) + head_param_count(base)
    model = build_adapter(base, spec, total_steps=40)
    assert count_parameters(model, trainable_only=True) == expected
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("pooler" in n for n in names) and any("classifier" in n for n in names)


def test_bad_specs():
    with pytest.raises(ValueError, match="unknown PEFT method"):
        AdapterSpec("adapterdrop")
    with pytest.raises(ValueError, match="init_r"):
        AdapterSpec("adalora", r=8, init_r=4)
    with pytest.raises(ValueError, match="total_steps"):
        build_adapter(tiny_bert(100), AdapterSpec("adalora"), total_steps=0)
    with pytest.raises(ValueError, match="no nn.Linear"):
        adapter_param_formula(tiny_bert(100), AdapterSpec("lora", targets=("nothing",)))


def test_orthogonality_penalty_is_zero_only_for_orthonormal():
    model = build_adapter(tiny_bert(100), AdapterSpec("adalora", r=2, init_r=4), total_steps=40)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name:  # rows orthonormal: P Pᵀ = I
                p.copy_(torch.eye(*p.shape))
            elif "lora_B" in name:  # columns orthonormal: QᵀQ = I
                p.copy_(torch.eye(*p.shape))
    assert orthogonality_penalty(model).item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name:
                p.mul_(2.0)  # P Pᵀ = 4 I: ||3 I||_F = 3 sqrt(4) = 6 for each of the P's
    # mean over 4 P's (6 each) and 4 Q's (0 each)
    assert orthogonality_penalty(model).item() == pytest.approx(3.0, rel=1e-5)
    with pytest.raises(ValueError, match="lora_A"):
        orthogonality_penalty(tiny_bert(100))


def test_adalora_prunes_ranks_to_its_budget(tok):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 160)
    texts = [f"the film was {'great' if t else 'awful'}" for t in y]
    spec = AdapterSpec("adalora", r=2, init_r=4)
    cfg = FinetuneConfig(lr=5e-3, epochs=2, batch_size=8, eval_every=10**9, patience=None)
    steps = 2 * 160 // 8
    model = build_adapter(tiny_bert(tok.vocab_size), spec, total_steps=steps)
    assert set(adalora_ranks(model).values()) == {4}
    hooks = training_hooks(model, spec)
    assert set(hooks) == {"extra_loss", "step_hook"}
    hist = finetune_text_model(model, tok, texts, y, cfg, progress=False, **hooks)
    ranks = adalora_ranks(model)
    assert hist["steps"] == steps and len(ranks) == 4
    # the budget is an average: 4 matrices x target rank 2 = 8 singular values kept in all
    assert sum(ranks.values()) == 4 * spec.r
    # and the pruned singular values are masked to zero in the model itself
    kept = sum(int((p != 0).sum()) for n, p in model.named_parameters() if "lora_E" in n)
    assert kept == 4 * spec.r
    assert training_hooks(model, AdapterSpec("lora")) == {}
