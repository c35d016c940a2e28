"""Fine-tuning a pretrained language model on recommendation text: loading, a small training loop
(warm-up, clipping, early stopping on validation), prediction, LoRA arithmetic and the decoder
"Yes"/"No" scoring path.

- Devlin et al. (2019), BERT; Reimers and Gurevych (2019), Sentence-BERT (mean pooling).
- Hu et al. (2021), "LoRA: Low-Rank Adaptation of Large Language Models".
- Liu et al. (2022), "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
  In-Context Learning" (IA³).
- Bao et al. (2023), TALLRec (a causal LM answers "Yes"/"No"; AUC from the Yes probability).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .embeddings import resolve_base_model
from .metrics import auc, rmse
from .progress import no_loading_bars, tqdm
from .repro import autocast, resolve_precision
from .training import Checkpointer, adam, length_bucketed_batches, linear_warmup

KINDS = ("classification", "regression", "causal-lm", "encoder")


class ModelUnavailableError(RuntimeError):
    """``BASE_MODEL`` is neither the offline package, a local folder nor a reachable hub id."""


def load_base_model(base_model: str | None, kind: str = "classification", device="cpu"):
    """Tokenizer and model for ``BASE_MODEL``.

    Args:
        base_model: ``""``/``None`` (the offline all-MiniLM-L6-v2 package), a local folder, or a
            Hugging Face hub id (needs the hub to be reachable).
        kind: ``"classification"`` (one logit), ``"regression"`` (one output, MSE),
            ``"causal-lm"`` or ``"encoder"`` (the bare encoder).

    Raises:
        ModelUnavailableError: the model cannot be loaded, with the fix in the message.
    """
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )
    from transformers.utils import logging as hf_logging

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    path = resolve_base_model(base_model)
    looks_local = path.startswith((".", "/", "~")) or os.sep in path and os.path.exists(path)
    if looks_local and not os.path.isdir(os.path.expanduser(path)):
        raise ModelUnavailableError(
            f"BASE_MODEL={path!r} looks like a folder but does not exist. Fix: pass an existing "
            "folder with config.json and weights, a hub id, or leave BASE_MODEL empty for the "
            "offline all-MiniLM-L6-v2."
        )
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" report is expected here
    try:
        tok = AutoTokenizer.from_pretrained(path)
        with no_loading_bars():
            if kind == "causal-lm":
                model = AutoModelForCausalLM.from_pretrained(path)
            elif kind == "encoder":
                model = AutoModel.from_pretrained(path)
            else:
                model = AutoModelForSequenceClassification.from_pretrained(
                    path, num_labels=1, problem_type="regression"
                )
    except OSError as err:
        raise ModelUnavailableError(
            f"could not load BASE_MODEL={path!r}: it is not a local folder and the Hugging Face "
            "hub did not answer (offline machine?). Fix: leave BASE_MODEL empty for the offline "
            "all-MiniLM-L6-v2 package, or download the model where the hub is reachable and pass "
            f"its folder. Original error: {err}"
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)
    tok.truncation_side = "left"  # long prompts lose their oldest history, never the question
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
        model.config.pad_token_id = tok.pad_token_id
    return tok, model.to(device)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def lora_param_count(model: nn.Module, r: int, target_modules: Sequence[str]) -> int:
    """LoRA's trainable parameters by the formula: each adapted ``Linear(d_in, d_out)`` gains
    ``A (r, d_in)`` and ``B (d_out, r)``, i.e. ``r * (d_in + d_out)`` parameters (no bias)."""
    if r <= 0:
        raise ValueError(f"LoRA rank must be positive, got {r}")
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and name.split(".")[-1] in target_modules:
            total += r * (module.in_features + module.out_features)
    if total == 0:
        raise ValueError(f"no nn.Linear named {list(target_modules)} in the model")
    return total


def lora_delta(a: torch.Tensor, b: torch.Tensor, alpha: float, r: int) -> torch.Tensor:
    """The weight update LoRA adds: ``ΔW = (alpha / r) · B A``; A (r, d_in), B (d_out, r)."""
    return (alpha / r) * b @ a


def tokenize(tok, texts: Sequence[str], max_length: int, device="cpu") -> dict:
    """Pad to the longest text in the batch (not to ``max_length``): short batches cost less."""
    batch = tok(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return {k: v.to(device) for k, v in batch.items()}


@torch.inference_mode()
def predict_texts(
    model: nn.Module,
    tok,
    texts: Sequence[str],
    batch_size: int = 64,
    max_length: int = 128,
    device="cpu",
    progress: bool = True,
    desc: str = "predict",
    precision: str = "fp32",
) -> np.ndarray:
    """One output per text (a logit for classification, a value for regression). Texts are
    processed in length order so each batch pads little; results come back in input order.
    The model is moved to ``device`` first, so its weights and the batches share one device.
    ``precision``: ``"fp32"``, ``"bf16"`` or ``"auto"`` (see :func:`repro.resolve_precision`)."""
    model.to(device).eval()
    lengths = np.array([len(t) for t in texts])
    order = np.argsort(lengths, kind="stable")
    out = np.empty(len(texts), dtype=np.float32)
    for b in tqdm(range(0, len(texts), batch_size), desc=desc, disable=not progress):
        idx = order[b : b + batch_size]
        batch = tokenize(tok, [texts[i] for i in idx], max_length, device)
        with autocast(precision, device):
            out[idx] = model(**batch).logits[:, 0].float().cpu().numpy()
    return out


@dataclass
class FinetuneConfig:
    lr: float = 3e-5  # peak learning rate (AdamW)
    epochs: int = 1  # passes over the training texts
    batch_size: int = 16  # texts per step
    max_length: int = 128  # tokens; longer prompts lose their oldest history
    warmup_frac: float = 0.1  # share of steps with a linear warm-up (*LLM4Rec pipeline*'s advice)
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    clip_norm: float = 1.0  # gradient clipping (max global norm)
    eval_every: int = 25  # steps between validation evaluations
    patience: int | None = 4  # evaluations without improvement before stopping
    loss: str = "bce"  # "bce" (label 0/1, one logit) or "mse" (a rating)
    bucket_batches: int = 50  # sort each run of this many batches by length (less padding)
    precision: str = "fp32"  # "fp32", "bf16" (mixed) or "auto" (bf16 where it is fast)


def tallrec_full_config(profile: str, precision: str = "fp32") -> FinetuneConfig:
    """Notebook 04's full fine-tuning of the TALLRec task: one epoch at 5e-5, validation every
    ``eval_every`` steps, the best state kept. Notebook 08 finds the model 04 trained in the
    artefact cache by this config (:func:`tallrec_cache_parts`)."""
    from .repro import by_profile

    return FinetuneConfig(
        lr=5e-5,
        epochs=1,
        batch_size=16,
        eval_every=by_profile(profile, smoke=2, full=25, gpu=100),
        patience=None,
        precision=precision,
    )


def tallrec_cache_parts(
    cfg: FinetuneConfig, base_model: str | None, profile: str, seed: int, device="cpu"
):
    """The artefact-cache key of a model fine-tuned on the TALLRec task: the training config
    (with the precision it resolves to on ``device``), the base model, the sample counts and
    split, the seed, the profile and the code version of the training loop and the sample
    builder (see :mod:`llm4rec_utils.tooling.artifacts`)."""
    from .prompts import split_tallrec, tallrec_sizes
    from .tooling.artifacts import code_version

    return dict(
        config=cfg,
        precision=resolve_precision(cfg.precision, device),
        base=base_model or "offline all-MiniLM-L6-v2",
        sizes=tallrec_sizes(profile),
        split="tallrec-time",
        seed=seed,
        profile=profile,
        code=code_version(finetune_text_model, split_tallrec),
    )


def finetune_text_model(
    model: nn.Module,
    tok,
    texts: Sequence[str],
    targets: np.ndarray,
    cfg: FinetuneConfig,
    val_texts: Sequence[str] | None = None,
    val_targets: np.ndarray | None = None,
    seed: int = 0,
    device="cpu",
    progress: bool = True,
    extra_loss=None,
    step_hook=None,
) -> dict:
    """Train every parameter with ``requires_grad`` (full fine-tuning or any PEFT method alike).

    ``extra_loss(model)`` (a tensor) is added to each step's loss and ``step_hook(step)`` runs
    after each optimiser step, gradients still in place (AdaLoRA needs both:
    :func:`llm4rec_utils.adapters.training_hooks`).

    Validation (AUC for ``bce``, minus RMSE for ``mse``) runs every ``eval_every`` steps; the
    best state is restored at the end. Returns a history: per-step ``loss`` and ``lr``, ``eval``
    (step, value), ``best``, ``best_step``, ``wall_s``, ``samples_per_s``.

    The model is moved to ``device`` before the optimiser takes its parameters (a model built
    on the CPU, as :func:`llm4rec_utils.distributed.build_model` builds one, trains on the GPU
    asked for), and every batch is tokenised onto the same device.
    """
    if cfg.loss not in ("bce", "mse"):
        raise ValueError(f"unknown loss {cfg.loss!r}: use 'bce' or 'mse'")
    if len(texts) != len(targets) or len(texts) == 0:
        raise ValueError(f"need as many targets as texts (>0): {len(texts)} vs {len(targets)}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device)  # first: the optimiser must hold the parameters where they will live
    y = torch.as_tensor(np.array(targets, dtype=np.float32), device=device)  # a writable copy
    params = [p for p in model.parameters() if p.requires_grad]
    opt = adam(params, cfg.lr, cfg.weight_decay, decoupled=True)
    steps_per_epoch = math.ceil(len(texts) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = linear_warmup(opt, int(cfg.warmup_frac * total))

    eval_fn = None
    if val_texts is not None and len(val_texts):

        def eval_fn(m):
            pred = predict_texts(
                m, tok, val_texts, 64, cfg.max_length, device, False, precision=cfg.precision
            )
            return auc(val_targets, pred) if cfg.loss == "bce" else -rmse(val_targets, pred)

    ckpt = Checkpointer(eval_fn, cfg.eval_every, total, cfg.patience)
    hist = {"loss": [], "lr": []}
    step, start, seen = 0, time.perf_counter(), 0
    bar = tqdm(total=total, desc="fine-tune", disable=not progress)
    lengths = np.array([len(t) for t in texts])
    loss_fn = (
        nn.functional.binary_cross_entropy_with_logits
        if cfg.loss == "bce"
        else nn.functional.mse_loss
    )
    batches = (  # epoch after epoch, each reshuffled when it starts
        idx
        for _ in range(cfg.epochs)
        for idx in length_bucketed_batches(lengths, cfg.batch_size, cfg.bucket_batches, gen)
    )
    for idx in batches:
        model.train()
        batch = tokenize(tok, [texts[i] for i in idx], cfg.max_length, device)
        with autocast(cfg.precision, device):  # bf16 products, fp32 weights and loss
            out = model(**batch).logits[:, 0].float()
        loss = loss_fn(out, y[idx.to(y.device)])
        if extra_loss is not None:
            loss = loss + extra_loss(model)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, cfg.clip_norm)
        hist["lr"].append(opt.param_groups[0]["lr"])  # the rate this step used
        opt.step()
        if sched is not None:
            sched.step()
        step += 1
        if step_hook is not None:
            step_hook(step)
        seen += len(idx)
        hist["loss"].append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if ckpt.step(model, step):
            break
    bar.close()
    wall = time.perf_counter() - start
    res = ckpt.finish(model)
    hist.update(
        eval=res["eval"],
        best=res["best"],
        best_step=res["best_epoch"],
        steps=step,
        wall_s=wall,
        samples_per_s=seen / wall,
    )
    return hist


# --------------------------------------------------------------------------- decoder path


def tiny_gpt2(
    vocab_size: int,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 2,
    seed: int = 0,
    n_positions: int = 256,
):
    """A randomly initialised GPT-2 built from a config: a *code-path check* of the decoder route
    (it knows no language, so whatever it scores is not a result)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=vocab_size - 1,  # GPT-2's own ids (50256) would lie outside a tiny vocabulary
        eos_token_id=vocab_size - 1,
    )
    return GPT2LMHeadModel(cfg)


def tiny_bert_classifier(vocab_size: int, seed: int = 0):
    """A randomly initialised 2-layer BERT (hidden 32) with a one-logit head: a fast stand-in
    for MiniLM in tests of the fine-tuning and adapter code paths (never a result)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    return BertForSequenceClassification(cfg)


def answer_token_ids(tok, yes: str = "Yes", no: str = "No") -> tuple[int, int]:
    """Token ids of the answers (the first sub-token of " Yes"/" No", or lower case if the
    tokenizer lower-cases)."""
    ids = []
    for word in (yes, no):
        pieces = tok(" " + word, add_special_tokens=False)["input_ids"]
        if not pieces:
            raise ValueError(f"the tokenizer turns {word!r} into no tokens")
        ids.append(int(pieces[0]))
    if ids[0] == ids[1]:
        raise ValueError(f"{yes!r} and {no!r} share their first token; pick other answers")
    return ids[0], ids[1]


def yes_no_logits(model: nn.Module, batch: dict, yes_id: int, no_id: int) -> torch.Tensor:
    """``logit(Yes) - logit(No)`` of the next token after each prompt's last real token. (B,)

    Independent of the tokenizer's ``padding_side`` (decoder tokenizers often pad on the left):
    the last real token is the last position where the attention mask is 1, as transformers'
    decoder classification heads find it, and positions count real tokens only (as
    ``generate`` counts them), so a left-padded prompt scores exactly as a right-padded one."""
    mask = batch["attention_mask"]
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=batch["input_ids"], attention_mask=mask, position_ids=positions).logits
    columns = torch.arange(mask.shape[1], device=mask.device)
    last = (columns * (mask != 0)).argmax(-1).to(logits.device)  # (B,) either padding side
    nxt = logits[torch.arange(len(last), device=logits.device), last]  # (B, vocab)
    return nxt[:, yes_id] - nxt[:, no_id]


def answer_prompt(text: str) -> str:
    """TALLRec's instruction framing for a causal LM: the question, then "Answer:"."""
    return f"{text} Answer Yes or No. Answer:"


class YesNoHead(nn.Module):
    """Wrap a causal LM so it looks like a one-logit classifier (``.logits[:, 0]``), which lets
    :func:`finetune_text_model` and :func:`predict_texts` train and score it unchanged."""

    def __init__(self, lm: nn.Module, yes_id: int, no_id: int):
        super().__init__()
        self.lm, self.yes_id, self.no_id = lm, yes_id, no_id

    def forward(self, input_ids, attention_mask, **_):
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        out = yes_no_logits(self.lm, batch, self.yes_id, self.no_id)
        return type("Out", (), {"logits": out[:, None]})()
