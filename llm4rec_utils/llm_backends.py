"""The models that answer an LLMRank prompt, behind one small interface.

Every backend has a ``name`` and ``rank(history, shown) -> ParsedRanking``: ``history`` is the
user's titles (oldest first), ``shown`` the candidate titles in the order the model sees them,
and the answer orders positions into ``shown``. Three backends:

- :class:`BiEncoderRanker`: a sentence encoder (the offline all-MiniLM-L6-v2), the history
  text against each candidate title. A real pretrained model, but not a prompted LLM.
- :class:`CausalLMRanker`: a local Hugging Face causal LM, by the log-likelihood of each
  candidate title after the prompt or by parsing the text it generates.
- :class:`EndpointRanker`: any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp
  server), through :class:`EndpointClient`: timeouts, retries with backoff, a request budget
  and an on-disk response cache keyed by (model, prompt).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from .llmrank import ParsedRanking, parse_ranking, rank_prompt, scores_to_order
from .tooling.files import load_checked, write_checked


class BiEncoderRanker:
    """Cosine similarity between the history (one text, most recent title first) and each
    candidate title, with sentence-encoder embeddings cached per text.

    Args:
        encode: ``encode(texts) -> (n, d)`` unit vectors, e.g. a partial of
            :func:`llm4rec_utils.embeddings.encode_texts`.
        recent_first: write the history newest first (the encoder truncates long texts at the
            end, so the oldest titles are the ones cut).
    """

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        name: str = "minilm-biencoder",
        recent_first: bool = True,
        max_history: int = 20,
        seed: int = 0,
        cache: dict[str, np.ndarray] | None = None,
    ):
        self.encode, self.name = encode, name
        self.recent_first, self.max_history = recent_first, max_history
        self.rng = np.random.default_rng(seed)
        self.cache = {} if cache is None else cache  # text -> vector; share it between rankers

    def history_text(self, history: Sequence[str]) -> str:
        hist = list(history)[-self.max_history :]
        return "; ".join(hist[::-1] if self.recent_first else hist)

    def warm(self, texts: Sequence[str]) -> None:
        """Encode ``texts`` in batches now (one call per text later would be slow)."""
        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            self.cache.update(zip(todo, self.encode(todo), strict=True))

    def scores(self, history: Sequence[str], shown: Sequence[str]) -> np.ndarray:
        h = self.history_text(history)
        self.warm([h, *shown])
        return np.array([float(self.cache[h] @ self.cache[t]) for t in shown])

    def rank(self, history: Sequence[str], shown: Sequence[str]) -> ParsedRanking:
        order = scores_to_order(self.scores(history, shown), self.rng)
        return ParsedRanking(order=order, n_candidates=len(shown))


def chat_text(tok, prompt: str) -> str:
    """The prompt wrapped in the tokenizer's chat template when it has one, else unchanged."""
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt


class CausalLMRanker:
    """A local causal LM asked with :func:`rank_prompt`.

    ``mode="likelihood"`` scores each candidate by the mean log-probability of its title's
    tokens right after the prompt (always a complete, valid ranking; it needs one forward pass
    per candidate). ``mode="generate"`` decodes greedily and parses the answer, which is what a
    chat model's user sees (answers may be incomplete or name other movies).
    """

    def __init__(
        self,
        model,
        tok,
        mode: str = "likelihood",
        name: str = "causal-lm",
        device="cpu",
        max_new_tokens: int = 400,
        prompt_kwargs: dict | None = None,
        seed: int = 0,
    ):
        if mode not in ("likelihood", "generate"):
            raise ValueError(f"mode must be 'likelihood' or 'generate', got {mode!r}")
        # the model moves to the device its inputs are built on (one built on the CPU included)
        self.model, self.tok, self.mode, self.name = model.to(device).eval(), tok, mode, name
        self.device, self.max_new_tokens = device, max_new_tokens
        self.prompt_kwargs = prompt_kwargs or {}
        self.rng = np.random.default_rng(seed)
        positions = getattr(model.config, "n_positions", None) or getattr(
            model.config, "max_position_embeddings", 2048
        )
        self.max_len = int(positions)

    def prompt(self, history, shown) -> str:
        return chat_text(self.tok, rank_prompt(history, shown, **self.prompt_kwargs))

    def _ids(self, text: str, budget: int) -> list[int]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        return ids[-budget:]  # keep the end: the question and the candidates

    @torch.inference_mode()
    def title_logprobs(self, prompt: str, titles: Sequence[str]) -> np.ndarray:
        """Mean log-probability of each title's tokens after ``prompt`` (one batch). (m,)"""
        cands = [self.tok(" " + t, add_special_tokens=False)["input_ids"] for t in titles]
        longest = max(len(c) for c in cands)
        p = self._ids(prompt, self.max_len - longest)
        seqs = [p + c for c in cands]
        width = max(len(s) for s in seqs)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
        logp = torch.log_softmax(
            self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits.float(),
            -1,
        ).cpu()
        out = np.empty(len(cands))
        for i, c in enumerate(cands):
            pos = torch.arange(len(p) - 1, len(p) - 1 + len(c))  # logits at t predict token t+1
            out[i] = float(logp[i, pos, torch.tensor(c)].mean())
        return out

    @torch.inference_mode()
    def generate(self, prompt: str) -> str:
        ids = torch.tensor(
            [self._ids(prompt, self.max_len - self.max_new_tokens)], device=self.device
        )
        out = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            pad_token_id=self.tok.pad_token_id,
        )
        return self.tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)

    def rank(self, history: Sequence[str], shown: Sequence[str]) -> ParsedRanking:
        prompt = self.prompt(history, shown)
        if self.mode == "likelihood":
            order = scores_to_order(self.title_logprobs(prompt, shown), self.rng)
            return ParsedRanking(order=order, n_candidates=len(shown))
        return parse_ranking(self.generate(prompt), shown)


class EndpointError(RuntimeError):
    """The endpoint could not give an answer; the message says why and what to check."""


class BudgetExceeded(EndpointError):
    """More requests than the client's budget allows (cached answers cost nothing)."""


def _read_answer(path: Path) -> str:
    answer = json.loads(path.read_text(encoding="utf-8"))["answer"]
    if not isinstance(answer, str):
        raise ValueError(f"its answer is a {type(answer).__name__}, not text")
    return answer


class EndpointClient:
    """A minimal client for an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        base_url: e.g. ``"http://localhost:8000/v1"`` (vLLM), ``"http://localhost:11434/v1"``
            (Ollama).
        model: the model name the server expects.
        timeout_s: per-request socket timeout.
        max_retries: retries after a timeout, a connection error, HTTP 429 or 5xx.
        backoff_s: the first retry waits this long, each next one twice as long.
        budget: the most requests this client sends (None: no limit); cache hits are free.
        cache_dir: answers are stored here as JSON, one file per (model, prompt, settings).
        api_key: sent as a bearer token if given (read it from the environment, never commit it).
        sleep: the wait function (tests replace it).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        budget: int | None = 1000,
        cache_dir: str | os.PathLike | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 600,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"LLM_ENDPOINT must start with http:// or https://, got {base_url!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout_s, self.max_retries = model, timeout_s, max_retries
        self.backoff_s, self.budget, self.api_key = backoff_s, budget, api_key
        self.temperature, self.max_tokens, self.sleep = temperature, max_tokens, sleep
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.requests = 0  # HTTP requests sent, retries included
        self.cache_hits = 0

    def _key(self, prompt: str) -> str:
        blob = json.dumps([self.model, prompt, self.temperature, self.max_tokens])
        return hashlib.sha256(blob.encode()).hexdigest()

    def chat(self, prompt: str) -> str:
        """The assistant's answer to one user message (from the cache when present)."""
        path = self.cache_dir / f"{self._key(prompt)}.json" if self.cache_dir else None
        if path is not None:  # a damaged answer is removed with a warning and asked again
            cached = load_checked(path, _read_answer)
            if cached is not None:
                self.cache_hits += 1
                return cached
        answer = self._post(prompt)
        if path is not None:  # write-then-rename (never half a file), its sha256 beside it
            record = {"model": self.model, "prompt": prompt, "answer": answer}
            write_checked(path, lambda tmp: tmp.write_text(json.dumps(record), encoding="utf-8"))
        return answer

    def _post(self, prompt: str) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = None
        for attempt in range(self.max_retries + 1):
            if self.budget is not None and self.requests >= self.budget:
                raise BudgetExceeded(
                    f"request budget of {self.budget} spent; raise the budget or rerun: "
                    "answers already received are cached"
                )
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.requests += 1
            try:
                req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code} from {self.url}"
                if err.code == 429 or err.code >= 500:
                    continue
                raise EndpointError(
                    f"{last}: check the URL, the model name {self.model!r} and the API key"
                ) from err
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = f"no answer from {self.url} within {self.timeout_s} s ({err})"
                continue
            return self._answer(raw)
        raise EndpointError(f"{last}, after {self.max_retries} retries: is the server running?")

    def _answer(self, raw: bytes) -> str:
        try:
            return json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise EndpointError(
                f"malformed response from {self.url} (expected OpenAI chat JSON with "
                f"choices[0].message.content): {raw[:200]!r}"
            ) from err


class EndpointRanker:
    """:func:`rank_prompt` sent to an :class:`EndpointClient`, the answer parsed back."""

    def __init__(
        self, client: EndpointClient, name: str | None = None, prompt_kwargs: dict | None = None
    ):
        self.client, self.name = client, name or f"endpoint-{client.model}"
        self.prompt_kwargs = prompt_kwargs or {}

    def rank(self, history: Sequence[str], shown: Sequence[str]) -> ParsedRanking:
        return parse_ranking(
            self.client.chat(rank_prompt(history, shown, **self.prompt_kwargs)), shown
        )


class LoopbackChatServer:
    """An OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1 whose "model" is a
    Python function ``answer(prompt) -> text``: for exercising :class:`EndpointClient` where no
    real server exists. Use as a context manager; ``url`` is the base URL to pass on."""

    def __init__(self, answer: Callable[[str], str]):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = answer(body["messages"][-1]["content"])
                reply = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> LoopbackChatServer:
        import threading

        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def echo_candidates(prompt: str) -> str:
    """A scripted "model" that lists the candidates in the order the prompt shows them: a pure
    position bias, the worst case the protocol's shuffles are there to expose."""
    lines = prompt.rsplit("no other movies:", 1)[-1].splitlines()
    return "\n".join(
        f"{i}. {line[2:]}" for i, line in enumerate((x for x in lines if x.startswith("- ")), 1)
    )
