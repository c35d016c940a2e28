import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from llm4rec_utils.embeddings import resolve_base_model
from llm4rec_utils.finetune import (
    FinetuneConfig,
    ModelUnavailableError,
    YesNoHead,
    answer_prompt,
    answer_token_ids,
    count_parameters,
    finetune_text_model,
    load_base_model,
    lora_delta,
    lora_param_count,
    predict_texts,
    tiny_bert_classifier,
    tiny_gpt2,
)
from llm4rec_utils.metrics import auc


@pytest.fixture(scope="module")
def tok():
    t = AutoTokenizer.from_pretrained(resolve_base_model(None))
    t.truncation_side = "left"
    return t


def tiny_bert(vocab_size, seed=0):
    return tiny_bert_classifier(vocab_size, seed)


def toy_task(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    fillers = ["the film", "this movie", "a story", "my evening"]
    texts = [f"{fillers[i % 4]} was {'great' if t else 'awful'}" for i, t in enumerate(y)]
    return texts, y


def test_lora_formula_matches_peft(tok):
    from peft import LoraConfig, TaskType, get_peft_model

    model = tiny_bert(tok.vocab_size)
    expected = lora_param_count(model, 4, ["query", "value"])
    # 2 layers x 2 modules x r (d_in + d_out) = 2 * 2 * 4 * (32 + 32)
    assert expected == 1024
    head = count_parameters(model.classifier)
    cfg = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["query", "value"]
    )
    peft_model = get_peft_model(model, cfg)
    assert count_parameters(peft_model, trainable_only=True) == expected + head
    with pytest.raises(ValueError, match="no nn.Linear"):
        lora_param_count(model, 4, ["nonexistent"])
    with pytest.raises(ValueError, match="rank"):
        lora_param_count(model, 0, ["query"])


def test_load_base_model_draws_no_loading_bar(capfd):
    load_base_model(None, kind="encoder")
    assert "Loading weights" not in capfd.readouterr().err


def test_lora_delta_is_low_rank():
    a, b = torch.randn(2, 6), torch.randn(5, 2)
    delta = lora_delta(a, b, alpha=4, r=2)
    assert delta.shape == (5, 6)
    assert torch.linalg.matrix_rank(delta) == 2
    torch.testing.assert_close(delta, 2.0 * b @ a)


def test_finetune_learns_toy_task_and_restores_best(tok):
    texts, y = toy_task(96)
    vtexts, vy = toy_task(32, seed=1)
    model = tiny_bert(tok.vocab_size)
    cfg = FinetuneConfig(
        lr=3e-3, epochs=3, batch_size=16, eval_every=3, patience=None, warmup_frac=0.3
    )
    hist = finetune_text_model(model, tok, texts, y, cfg, vtexts, vy, progress=False)
    assert hist["steps"] == 18 and len(hist["loss"]) == 18
    assert hist["lr"][0] < hist["lr"][-1]  # linear warm-up
    assert np.mean(hist["loss"][-3:]) < np.mean(hist["loss"][:3])
    pred = predict_texts(model, tok, vtexts, batch_size=8, progress=False)
    assert auc(vy, pred) == pytest.approx(hist["best"])  # best state restored
    assert hist["best"] > 0.9


def test_finetune_bad_input(tok):
    model = tiny_bert(tok.vocab_size)
    with pytest.raises(ValueError, match="targets"):
        finetune_text_model(model, tok, ["a"], np.array([1, 0]), FinetuneConfig(), progress=False)
    with pytest.raises(ValueError, match="loss"):
        finetune_text_model(model, tok, ["a"], np.array([1]), FinetuneConfig(loss="x"))


def test_decoder_yes_no_path(tok):
    yes, no = answer_token_ids(tok)
    assert tok.convert_ids_to_tokens([yes, no]) == ["yes", "no"]
    lm = YesNoHead(tiny_gpt2(tok.vocab_size), yes, no)
    texts, y = toy_task(64)
    texts = [answer_prompt(t) for t in texts]
    cfg = FinetuneConfig(lr=3e-3, epochs=2, batch_size=16, eval_every=100, patience=None)
    hist = finetune_text_model(lm, tok, texts, y, cfg, progress=False)
    assert np.isfinite(hist["loss"]).all()
    # right padding: the score of a prompt must not depend on what it is batched with
    short, long_ = texts[0], texts[1] + " and more words to pad"
    alone = predict_texts(lm, tok, [short], progress=False)
    mixed = predict_texts(lm, tok, [short, long_], progress=False)
    assert alone[0] == pytest.approx(mixed[0], abs=1e-5)


def test_load_base_model_errors(monkeypatch):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_base_model("./no/such/model")
    with pytest.raises(ValueError, match="unknown kind"):
        load_base_model(None, kind="seq2seq")

    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    with pytest.raises(ModelUnavailableError, match="leave BASE_MODEL empty"):
        load_base_model("someone/some-model")


def test_load_offline_default():
    tok, model = load_base_model(None, kind="classification")
    assert tok.truncation_side == "left"
    assert 22_000_000 < count_parameters(model) < 23_000_000


def test_length_bucketed_batches_cover_everything_once():
    from llm4rec_utils.training import length_bucketed_batches

    lengths = np.array([5, 50, 6, 51, 7, 52, 8, 53])
    gen = torch.Generator().manual_seed(0)
    batches = length_bucketed_batches(lengths, batch_size=2, bucket_batches=4, generator=gen)
    flat = torch.cat(batches).tolist()
    assert sorted(flat) == list(range(8))
    # inside one bucket, each batch holds neighbours in length: short with short
    spreads = [int(np.ptp(lengths[b.numpy()])) for b in batches]
    assert max(spreads) <= 2
    plain = length_bucketed_batches(lengths, 2, 1, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(plain).tolist()) == list(range(8))


def test_early_stopping_on_validation(tok):
    texts, y = toy_task(64)
    model = tiny_bert(tok.vocab_size)
    # a learning rate of zero never improves validation: stop after `patience` evaluations
    cfg = FinetuneConfig(lr=0.0, epochs=4, batch_size=16, eval_every=1, patience=2)
    hist = finetune_text_model(model, tok, texts, y, cfg, texts[:16], y[:16], progress=False)
    assert hist["steps"] == 3 and len(hist["eval"]) == 3  # first eval is the best, then 2 more
    assert hist["best_step"] == 1


def test_bf16_mixed_precision_trains_and_scores_close_to_fp32(tok):
    texts, y = toy_task(96)
    vtexts, vy = toy_task(32, seed=1)
    model = tiny_bert(tok.vocab_size)
    cfg = FinetuneConfig(lr=3e-3, epochs=3, batch_size=16, eval_every=6, patience=None,
                         precision="bf16")
    hist = finetune_text_model(model, tok, texts, y, cfg, vtexts, vy, progress=False)
    assert hist["best"] > 0.9  # it learns in mixed precision too
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    fp32 = predict_texts(model, tok, vtexts, progress=False)
    bf16 = predict_texts(model, tok, vtexts, progress=False, precision="bf16")
    assert not np.array_equal(fp32, bf16)  # bf16 products really ran
    np.testing.assert_allclose(bf16, fp32, atol=0.1 * np.abs(fp32).max())
    with pytest.raises(ValueError, match="precision"):
        predict_texts(model, tok, vtexts, progress=False, precision="fp16")
