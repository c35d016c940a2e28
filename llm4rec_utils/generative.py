"""Generative recommendation: a GPT-style causal language model whose vocabulary is the item
catalogue (the "autoregressive model trained on behaviour" of the *ChatGPT-rec study*,
docs/claims.md). Built on Hugging Face's
``GPT2LMHeadModel`` from a small ``GPT2Config`` so it trains on a CPU.

Token layout: 0 = padding, 1 = beginning of a user's history (BOS), item index i -> i + 2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .progress import tqdm
from .training import Checkpointer, adam, linear_warmup, train_epoch

PAD_TOKEN, BOS_TOKEN, OFFSET = 0, 1, 2


@dataclass
class GPTRecConfig:
    num_items: int  # catalogue size; the vocabulary is num_items + 2
    max_len: int = 50  # items of history the model reads (positions = max_len + 1 with BOS)
    emb_dim: int = 64  # n_embd
    num_layers: int = 2  # n_layer
    num_heads: int = 2  # n_head
    dropout: float = 0.2  # residual, embedding and attention dropout
    text_dim: int = 0  # > 0: add a projection of item text vectors to each item's input embedding
    scale_embeddings: bool = True  # multiply item embeddings by sqrt(emb_dim), as SASRec does


def build_gpt_rec(cfg: GPTRecConfig):
    """A randomly initialised ``GPT2LMHeadModel`` sized by ``cfg`` (input and output item
    embeddings tied, as in GPT-2)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=cfg.num_items + OFFSET,
        n_positions=cfg.max_len + 1,
        n_embd=cfg.emb_dim,
        n_layer=cfg.num_layers,
        n_head=cfg.num_heads,
        n_inner=4 * cfg.emb_dim,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        bos_token_id=BOS_TOKEN,
        eos_token_id=BOS_TOKEN,
        pad_token_id=PAD_TOKEN,
    )
    return GPT2LMHeadModel(config)


class GPTRec(nn.Module):
    """The GPT-2 model plus (optionally) item text vectors mixed into the input embeddings:
    ``e(item) = E[item] + W · text(item)``, which gives rarely seen items a starting point."""

    def __init__(self, cfg: GPTRecConfig, text_vectors: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.lm = build_gpt_rec(cfg)
        self.register_buffer("text", None, persistent=False)
        if cfg.text_dim:
            if text_vectors is None or text_vectors.shape != (cfg.num_items, cfg.text_dim):
                raise ValueError(f"text_vectors must have shape ({cfg.num_items}, {cfg.text_dim})")
            padded = np.vstack([np.zeros((OFFSET, cfg.text_dim)), text_vectors]).astype(np.float32)
            self.text = torch.from_numpy(padded)
            self.text_proj = nn.Linear(cfg.text_dim, cfg.emb_dim, bias=False)
            nn.init.zeros_(self.text_proj.weight)  # starts as the plain model

    def _embeds(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.lm.transformer.wte(ids)
        if self.cfg.scale_embeddings:
            e = e * self.cfg.emb_dim**0.5
        if self.text is not None:
            e = e + self.text_proj(self.text[ids])
        return e

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor, position_ids=None):
        """ids (B, T) -> logits (B, T, vocab)."""
        return self.lm(
            inputs_embeds=self._embeds(ids),
            attention_mask=attention_mask,
            position_ids=position_ids,
        ).logits

    def loss(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Causal-LM loss: every real token predicts the next one (padding ignored).

        Only positions followed by a real token are projected onto the vocabulary: the same
        mean as scoring every position and ignoring padding, without the wasted products."""
        hidden = self.lm.transformer(
            inputs_embeds=self._embeds(ids), attention_mask=attention_mask
        ).last_hidden_state[:, :-1]
        keep = attention_mask[:, 1:] != 0
        return nn.functional.cross_entropy(self.lm.lm_head(hidden[keep]), ids[:, 1:][keep])

    @torch.inference_mode()
    def next_logits(self, histories: list[np.ndarray]) -> torch.Tensor:
        """Logits (B, vocab) of the token after each history's last ``max_len`` items.

        Only the last position is projected onto the vocabulary (the others are not needed to
        rank the next item), and the inputs go through :meth:`_embeds`, the embedding the
        model was trained with.
        """
        ids, mask = left_padded_prompts(histories, self.cfg.max_len)
        ids, mask = ids.to(self.text_device), mask.to(self.text_device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self.lm.transformer(
            inputs_embeds=self._embeds(ids), attention_mask=mask, position_ids=pos
        ).last_hidden_state[:, -1]  # (B, emb_dim)
        return self.lm.lm_head(hidden)  # (B, vocab)

    @torch.inference_mode()
    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Next-item scores (B, num_items) from each history's last ``max_len`` items."""
        return self.next_logits(histories)[:, OFFSET:].float().cpu().numpy()

    @property
    def text_device(self):
        return next(self.parameters()).device


@torch.inference_mode()
def generate_items(
    model: GPTRec, histories: list[np.ndarray], steps: int, num_beams: int = 1
) -> list[np.ndarray]:
    """Generate the next ``steps`` items of each history with the model's own forward pass.

    Greedy decoding (``num_beams=1``) appends the most likely item at each step; beam search
    keeps the ``num_beams`` item sequences with the highest summed log-probability. Items of the
    history and items already generated are masked at every step (a recommender never repeats
    itself or shows what the user has seen), and only item tokens are eligible, not PAD or BOS.
    Hugging Face's ``generate`` cannot be used: it embeds tokens with GPT-2's own lookup and
    would skip :meth:`GPTRec._embeds` (the sqrt(d) scaling and the text vectors).

    Returns:
        One int64 array of ``steps`` item indices per history (the best beam).
    """
    if steps <= 0 or num_beams <= 0:
        raise ValueError(f"steps and num_beams must be positive, got {steps}, {num_beams}")
    if steps > model.cfg.num_items:
        raise ValueError(f"cannot generate {steps} distinct items from {model.cfg.num_items}")
    was_training = model.training
    model.eval()
    out = []
    for hist in histories:
        hist = np.asarray(hist, dtype=np.int64)
        beams = [(0.0, np.empty(0, dtype=np.int64))]  # (summed log-prob, generated items)
        for _ in range(steps):
            logits = model.next_logits([np.concatenate([hist, g]) for _, g in beams])
            logp = torch.log_softmax(logits.float(), dim=-1)[:, OFFSET:].cpu().numpy()
            logp[:, hist] = -np.inf
            for r, (_, g) in enumerate(beams):
                logp[r, g] = -np.inf
            total = np.array([b for b, _ in beams])[:, None] + logp  # (beams, num_items)
            flat = np.argsort(-total, axis=None, kind="stable")[:num_beams]
            rows, items = np.unravel_index(flat, total.shape)
            beams = [
                (float(total[r, i]), np.append(beams[r][1], i))
                for r, i in zip(rows, items, strict=True)
                if np.isfinite(total[r, i])
            ]
        out.append(beams[0][1])
    model.train(was_training)
    return out


def left_padded_prompts(histories: list[np.ndarray], max_len: int):
    """[BOS, last max_len items] per history, left-padded. Returns (ids, attention_mask)."""
    ids = torch.zeros(len(histories), max_len + 1, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, h in enumerate(histories):
        toks = np.concatenate([[BOS_TOKEN], np.asarray(h[-max_len:], dtype=np.int64) + OFFSET])
        ids[r, -len(toks) :] = torch.from_numpy(toks)
        mask[r, -len(toks) :] = 1
    return ids, mask


def lm_training_windows(seqs: list[np.ndarray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded "sentences" [BOS, up to max_len items] cut from each sequence (from its end,
    non-overlapping), as (ids, attention_mask) of shape (n, max_len + 1)."""
    rows = []
    for s in seqs:
        end = len(s)
        while end > 0:
            start = max(0, end - max_len)
            rows.append(s[start:end])
            end = start
    ids = torch.zeros(len(rows), max_len + 1, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for r, w in enumerate(rows):
        toks = np.concatenate([[BOS_TOKEN], np.asarray(w, dtype=np.int64) + OFFSET])
        ids[r, : len(toks)] = torch.from_numpy(toks)
        mask[r, : len(toks)] = 1
    return ids, mask


def train_gpt_rec(
    model: GPTRec,
    seqs: list[np.ndarray],
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 3e-3,
    warmup_steps: int = 50,
    device: torch.device | str = "cpu",
    seed: int = 0,
    eval_fn=None,
    eval_every: int = 5,
    progress: bool = True,
    desc: str = "GPT-rec",
) -> dict:
    """AdamW with linear warm-up; keeps the state with the best ``eval_fn`` (validation) score."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    ids, mask = lm_training_windows(seqs, model.cfg.max_len)
    model.to(device)
    opt = adam(model.parameters(), lr, weight_decay=0.01, decoupled=True)
    sched = linear_warmup(opt, warmup_steps)
    hist = {"loss": [], "windows": len(ids)}
    ckpt = Checkpointer(eval_fn, eval_every, epochs)
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc=desc, disable=not progress):
        loss = train_epoch(
            model,
            opt,
            len(ids),
            batch_size,
            gen,
            lambda idx: model.loss(ids[idx].to(device), mask[idx].to(device)),
            clip_norm=1.0,
            scheduler=sched,
        )
        hist["loss"].append(loss)
        ckpt.step(model, epoch)
    hist.update(ckpt.finish(model))
    hist["wall_s"] = time.perf_counter() - start
    return hist


def gpt_score_fn(model: GPTRec, seqs: list[np.ndarray], batch_size: int = 256):
    """``score_fn(user_indices) -> (B, num_items)`` for the evaluators, from ``seqs[user]``."""

    def score(users: np.ndarray) -> np.ndarray:
        out = [
            model.score([seqs[int(u)] for u in users[b : b + batch_size]])
            for b in range(0, len(users), batch_size)
        ]
        return np.concatenate(out)

    return score
