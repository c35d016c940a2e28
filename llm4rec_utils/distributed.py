"""TALLRec fine-tuning (LoRA on a causal LM, Yes/No scoring) that runs on one process or many.

Run it under an existing launcher; Hugging Face ``accelerate`` turns the same loop into
data-parallel training (each process reads its own shard of every batch, gradients are averaged
across processes before each step, so every copy of the weights stays identical)::

    # one machine, 4 GPUs
    accelerate launch --num_processes 4 -m llm4rec_utils.distributed --data train.jsonl --out run/
    # the same with PyTorch's launcher
    torchrun --nproc_per_node 4 -m llm4rec_utils.distributed --data train.jsonl --out run/
    # two machines with 8 GPUs each (run on both; machine_rank 0 and 1)
    accelerate launch --num_machines 2 --num_processes 16 --machine_rank 0 \\
        --main_process_ip 10.0.0.1 --main_process_port 29500 -m llm4rec_utils.distributed ...
    # 2 processes over gloo on a machine without a GPU (what the tests run). accelerate's
    # --multi_gpu means "several processes" here; its --cpu flag would start only one
    accelerate launch --multi_gpu --num_processes 2 -m llm4rec_utils.distributed ... --cpu

``--data`` is a JSON-lines file of ``{"text": ..., "label": 0 or 1}`` (notebook 09 writes one
from the TALLRec samples). ``--batch-size`` is *per process*: the global batch is
``batch_size x processes x grad_accum``. Each process writes ``rank<k>.json`` (the sample
indices it trained on and a hash of its final weights) to ``--out``; process 0 also saves the
LoRA adapter there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path

import torch


def read_samples(path: str | Path) -> tuple[list[str], list[int]]:
    """Texts and 0/1 labels from a JSON-lines file; a clear error for anything else."""
    texts, labels = [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = str(row["text"]), int(row["label"])
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f'{path}:{n}: expected {{"text": ..., "label": 0|1}}') from err
        if label not in (0, 1):
            raise ValueError(f"{path}:{n}: label must be 0 or 1, got {label}")
        texts.append(text)
        labels.append(label)
    if not texts:
        raise ValueError(f"{path} holds no samples")
    return texts, labels


def write_samples(path: str | Path, texts, labels) -> Path:
    """The JSON-lines file :func:`read_samples` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = (json.dumps({"text": t, "label": int(y)}) for t, y in zip(texts, labels, strict=True))
    path.write_text("\n".join(rows) + "\n")
    return path


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of the trainable parameters (identical copies give identical digests)."""
    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters()):
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()


def build_model(decoder_model: str, base_model: str, seed: int, r: int = 8):
    """A Yes/No head over a LoRA-wrapped causal LM: ``decoder_model`` (folder or hub id), or a
    tiny randomly initialised GPT-2 with ``base_model``'s tokenizer when it is empty."""
    from peft import LoraConfig, TaskType, get_peft_model

    from .finetune import YesNoHead, answer_token_ids, load_base_model, tiny_gpt2

    torch.manual_seed(seed)
    if decoder_model:
        tok, lm = load_base_model(decoder_model, kind="causal-lm")
        targets = None  # peft knows the attention projections of common architectures
    else:
        tok, _ = load_base_model(base_model, kind="encoder")
        lm, targets = tiny_gpt2(len(tok), seed=seed), ["c_attn"]
    cfg = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=r,
        lora_alpha=2 * r,
        target_modules=targets,
        fan_in_fan_out=targets_conv1d(lm, targets),
    )
    with warnings.catch_warnings():
        # peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` while it wraps the
        # model; the deprecation is between those two libraries, nothing this code can change
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        lm = get_peft_model(lm, cfg)
    return tok, YesNoHead(lm, *answer_token_ids(tok))


def targets_conv1d(lm: torch.nn.Module, targets: list[str] | None) -> bool:
    """Whether the modules LoRA adapts are ``transformers``' ``Conv1D`` (GPT-2's ``c_attn`` and
    ``c_proj``), which store their weight as (d_in, d_out), the transpose of ``nn.Linear``'s:
    LoRA's ``fan_in_fan_out`` must then be True (peft would warn and set it itself).
    ``targets=None`` means peft's default targets for the model's architecture."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS
    from transformers.pytorch_utils import Conv1D

    if targets is None:
        targets = DEFAULTS.get(getattr(lm.config, "model_type", None), [])
    hit = [m for n, m in lm.named_modules() if n.split(".")[-1] in set(targets)]
    return bool(hit) and all(isinstance(m, Conv1D) for m in hit)


def train(args: argparse.Namespace) -> dict:
    """The training loop; returns what this process writes to ``rank<k>.json``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from torch.utils.data import DataLoader

    from .finetune import answer_prompt

    accelerator = Accelerator(gradient_accumulation_steps=args.grad_accum, cpu=args.cpu)
    set_seed(args.seed)  # the same initial weights in every process
    texts, labels = read_samples(args.data)
    tok, model = build_model(args.decoder_model, args.base_model, args.seed)
    before = weights_digest(model)

    def collate(idx):
        batch = tok(
            [answer_prompt(texts[i]) for i in idx],
            padding=True,
            truncation=True,
            max_length=args.max_length,
            return_tensors="pt",
        )
        return {
            "idx": torch.tensor(idx),
            "labels": torch.tensor([labels[i] for i in idx]).float(),
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
        }

    loader = DataLoader(
        list(range(len(texts))),
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(args.seed),
    )
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    model.train()
    seen, losses, step = [], [], 0
    while step < args.steps:
        for batch in loader:
            with accelerator.accumulate(model):
                logit = model(batch["input_ids"], batch["attention_mask"]).logits[:, 0]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, batch["labels"])
                accelerator.backward(loss)
                opt.step()
                opt.zero_grad()
            seen += batch["idx"].tolist()
            losses.append(float(loss.detach()))
            step += accelerator.sync_gradients  # one optimiser step per grad_accum batches
            if step >= args.steps:
                break
    accelerator.wait_for_everyone()
    inner = accelerator.unwrap_model(model)
    report = {
        "rank": accelerator.process_index,
        "world_size": accelerator.num_processes,
        "steps": step,
        "seen": seen,
        "losses": losses,
        "initial_digest": before,
        "final_digest": weights_digest(inner),
        "global_batch": args.batch_size * accelerator.num_processes * args.grad_accum,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))
    if accelerator.is_main_process:
        inner.lm.save_pretrained(out / "adapter")
    accelerator.end_training()
    return report


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", required=True, help="JSON lines of {text, label}")
    p.add_argument("--out", required=True, help="folder for rank<k>.json and the adapter")
    p.add_argument(
        "--decoder-model",
        default="",
        help="causal LM folder or hub id; empty: a tiny random GPT-2 (code path only)",
    )
    p.add_argument("--base-model", default="", help="tokenizer for the tiny GPT-2 (MiniLM)")
    p.add_argument("--steps", type=int, default=100, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=8, help="per process")
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimiser step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="force CPU even where a GPU exists")
    args = p.parse_args(argv)
    if args.steps < 1 or args.batch_size < 1 or args.grad_accum < 1:
        p.error("--steps, --batch-size and --grad-accum must be positive")
    return args


def main(argv=None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
