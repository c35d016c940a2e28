"""Every training and scoring entry point runs its model where its batches are: the device asked
for. Without a GPU the check uses torch's ``meta`` device: an entry point called with
``device="meta"`` must have moved the model there, and built its batches there, by the time the
model's first forward starts. A hook stops the run at that point (a meta tensor holds no values,
so nothing could be computed past it) after recording every parameter, buffer and input tensor
that sits elsewhere: a model left on the CPU while its batches go to the device asked for, the
mistake behind notebook 09's decoder on a GPU, shows up as a list of CPU parameters."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from llm4rec_utils.embeddings import resolve_base_model
from llm4rec_utils.finetune import (
    FinetuneConfig,
    YesNoHead,
    answer_prompt,
    answer_token_ids,
    finetune_text_model,
    predict_texts,
    tiny_bert_classifier,
    tiny_gpt2,
    yes_no_logits,
)

DEVICE = torch.device("meta")


class ReachedForward(Exception):
    """Raised by the hook: the first forward started with everything on the device checked."""


def _tensors(value, name):
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(v, f"{name}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{name}[{i}]")


def watch_first_forward(model: torch.nn.Module, found: dict, device=DEVICE):
    """A hook that records, at ``model``'s first forward, its parameters, buffers and input
    tensors that are not on ``device``, then stops the run."""

    def hook(module, args, kwargs):
        state = [*module.named_parameters(), *module.named_buffers()]
        inputs = [*_tensors(list(args), "args"), *_tensors(kwargs, "kwargs")]
        found["elsewhere"] = [
            f"{name} on {t.device}" for name, t in state + inputs if t.device != device
        ]
        found["inputs"] = [name for name, _ in inputs]
        raise ReachedForward

    return model.register_forward_pre_hook(hook, with_kwargs=True)


def check(found: dict, device=DEVICE):
    assert found, "the model never ran"
    assert found["inputs"], "the model's forward got no tensor"
    assert found["elsewhere"] == [], f"not on {device}: {found['elsewhere'][:5]}"


@contextlib.contextmanager
def first_forward_on(model: torch.nn.Module, device=DEVICE):
    """Run the body until ``model``'s first forward and assert that its parameters, buffers and
    inputs all lie on ``device`` then."""
    found: dict = {}
    handle = watch_first_forward(model, found, device)
    try:
        with pytest.raises(ReachedForward):
            yield
    finally:
        handle.remove()
    check(found, device)


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(resolve_base_model(None))


def texts_and_labels(n=8):
    texts = [f"the film number {i} was {'great' if i % 2 else 'awful'}" for i in range(n)]
    return texts, np.arange(n) % 2


def test_finetune_moves_a_classifier_built_on_the_cpu(tok):
    texts, y = texts_and_labels()
    model = tiny_bert_classifier(tok.vocab_size)
    cfg = FinetuneConfig(batch_size=4, eval_every=10**9, patience=None)
    with first_forward_on(model):
        finetune_text_model(model, tok, texts, y, cfg, device=DEVICE, progress=False)


def test_finetune_moves_the_decoder_notebook_09_builds_on_the_cpu(tok):
    """Notebook 09 §6: distributed.build_model (LoRA over a tiny GPT-2, on the CPU), then
    finetune_text_model(..., device=device)."""
    from llm4rec_utils.distributed import build_model

    dec_tok, decoder = build_model("", "", seed=0)
    texts, y = texts_and_labels()
    cfg = FinetuneConfig(lr=1e-3, batch_size=4, eval_every=10**9, patience=None)
    with first_forward_on(decoder):
        finetune_text_model(
            decoder, dec_tok, [answer_prompt(t) for t in texts], y, cfg, device=DEVICE
        )


def test_finetune_moves_a_peft_adapter(tok):
    from llm4rec_utils.adapters import AdapterSpec, build_adapter

    model = build_adapter(tiny_bert_classifier(tok.vocab_size), AdapterSpec("lora", r=2))
    texts, y = texts_and_labels()
    cfg = FinetuneConfig(batch_size=4, eval_every=10**9, patience=None)
    with first_forward_on(model):
        finetune_text_model(model, tok, texts, y, cfg, device=DEVICE, progress=False)


def test_the_optimiser_holds_the_moved_parameters(tok, monkeypatch):
    """Moving the model after the optimiser took its parameters would leave the optimiser
    stepping tensors the model no longer uses."""
    from llm4rec_utils import finetune

    held = {}
    real_adam = finetune.adam

    def spy(params, *args, **kwargs):
        params = list(params)
        held["devices"] = {p.device for p in params}
        return real_adam(params, *args, **kwargs)

    monkeypatch.setattr(finetune, "adam", spy)
    model = tiny_bert_classifier(tok.vocab_size)
    texts, y = texts_and_labels()
    cfg = FinetuneConfig(batch_size=4, eval_every=10**9, patience=None)
    with first_forward_on(model):
        finetune_text_model(model, tok, texts, y, cfg, device=DEVICE, progress=False)
    assert held["devices"] == {DEVICE}


def test_predict_texts_moves_the_model(tok):
    model = tiny_bert_classifier(tok.vocab_size)
    with first_forward_on(model):
        predict_texts(model, tok, texts_and_labels()[0], device=DEVICE, progress=False)


def test_predict_texts_moves_a_decoder_head(tok):
    lm = YesNoHead(tiny_gpt2(tok.vocab_size), *answer_token_ids(tok))
    with first_forward_on(lm):
        predict_texts(lm, tok, texts_and_labels()[0], device=DEVICE, progress=False)


def test_causal_lm_ranker_scores_on_its_device(tok):
    from llm4rec_utils.llm_backends import CausalLMRanker

    lm = tiny_gpt2(tok.vocab_size)
    ranker = CausalLMRanker(lm, tok, device=DEVICE)
    with first_forward_on(lm):
        ranker.title_logprobs("Rank these movies:", ["Heat", "Alien", "Fargo"])


def test_causal_lm_ranker_generates_on_its_device(tok):
    from llm4rec_utils.llm_backends import CausalLMRanker

    lm = tiny_gpt2(tok.vocab_size)
    ranker = CausalLMRanker(lm, tok, mode="generate", device=DEVICE, max_new_tokens=4)
    found: dict = {}

    def generate(**kwargs):  # generate's own checks read values: stop at its doorstep
        state = [*lm.named_parameters(), *lm.named_buffers()]
        inputs = list(_tensors(kwargs, "kwargs"))
        found["elsewhere"] = [f"{n} on {t.device}" for n, t in state + inputs if t.device != DEVICE]
        found["inputs"] = [n for n, _ in inputs]
        raise ReachedForward

    lm.generate = generate
    with pytest.raises(ReachedForward):
        ranker.generate("Rank these movies: Heat, Alien, Fargo")
    check(found)


def test_distill_moves_the_student():
    from llm4rec_utils.compress import MLPStudent, distill

    rng = np.random.default_rng(0)
    student = MLPStudent(num_items=10, n_features=3)
    with first_forward_on(student):
        distill(
            student,
            rng.integers(0, 10, 32),
            rng.normal(size=(32, 3)),
            rng.normal(size=32),
            epochs=1,
            device=DEVICE,
            progress=False,
        )


def test_encode_runs_the_encoder_where_its_batches_are(monkeypatch):
    import transformers

    from llm4rec_utils.embeddings import encode_texts

    real = transformers.AutoModel.from_pretrained
    found: dict = {}

    def load(*args, **kwargs):
        model = real(*args, **kwargs)
        watch_first_forward(model, found)
        return model

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", load)
    with pytest.raises(ReachedForward):
        encode_texts(["a film", "another film"], device=DEVICE, progress=False)
    check(found)


@pytest.mark.parametrize("side", ["left", "right"])
def test_yes_no_logits_ignore_the_padding_side(tok, side):
    """Decoder tokenizers often pad on the left: the score of a prompt must not depend on the
    padding side, nor on what it is batched with."""
    lm = tiny_gpt2(tok.vocab_size).eval()
    yes, no = answer_token_ids(tok)
    prompts = [answer_prompt(t) for t in ["a film", "a much longer review of another film"]]
    alone = []
    with torch.inference_mode():
        for p in prompts:
            alone.append(float(yes_no_logits(lm, dict(tok([p], return_tensors="pt")), yes, no)))
        padded = AutoTokenizer.from_pretrained(resolve_base_model(None), padding_side=side)
        batch = dict(padded(prompts, padding=True, return_tensors="pt"))
        mixed = yes_no_logits(lm, batch, yes, no)
    pad_column = batch["attention_mask"][:, 0 if side == "left" else -1]
    assert pad_column.tolist() == [0, 1]  # the short prompt is padded on that side
    np.testing.assert_allclose(mixed.numpy(), alone, atol=1e-5)
