"""The three LLMRank backends. The causal LM is a tiny *randomly initialised* GPT-2 and the
endpoint a loopback HTTP server written here: code-path tests, never quality results."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from llm4rec_utils.finetune import tiny_gpt2
from llm4rec_utils.llm_backends import (
    BiEncoderRanker,
    BudgetExceeded,
    CausalLMRanker,
    EndpointClient,
    EndpointError,
    EndpointRanker,
)

TITLES = ["Heat", "Fargo", "Toy Story", "Casino"]


class Server:
    """Answers POSTs from a script: each entry is (status, body bytes, delay seconds)."""

    def __init__(self, script):
        self.script, self.bodies = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                status, body, delay = outer.script.pop(0) if outer.script else (500, b"", 0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def ok(text):
    return (200, json.dumps({"choices": [{"message": {"content": text}}]}).encode(), 0)


@pytest.fixture
def server(request):
    s = Server(request.param)
    yield s
    s.close()


def client(srv, tmp_path=None, **kw):
    kw.setdefault("sleep", lambda s: None)
    return EndpointClient(srv.url, "test-model", cache_dir=tmp_path, **kw)


@pytest.mark.parametrize("server", [[ok("Fargo\nHeat\nCasino\nToy Story")]], indirect=True)
def test_endpoint_ranks_and_sends_an_openai_request(server):
    p = EndpointRanker(client(server)).rank(["Casino"], TITLES)
    assert p.order == [1, 0, 3, 2] and p.valid
    sent = server.bodies[0]
    assert sent["model"] == "test-model" and sent["temperature"] == 0
    assert "Fargo" in sent["messages"][0]["content"] and sent["messages"][0]["role"] == "user"


@pytest.mark.parametrize("server", [[(500, b"oops", 0), (429, b"", 0), ok("Heat")]], indirect=True)
def test_endpoint_retries_server_errors_with_backoff(server):
    waits = []
    c = client(server, sleep=waits.append, backoff_s=0.5)
    assert c.chat("hi") == "Heat"
    assert c.requests == 3 and waits == [0.5, 1.0]


@pytest.mark.parametrize("server", [[(500, b"", 0)] * 3], indirect=True)
def test_endpoint_gives_up_after_its_retries(server):
    c = client(server, max_retries=2)
    with pytest.raises(EndpointError, match="HTTP 500.*after 2 retries"):
        c.chat("hi")
    assert c.requests == 3


@pytest.mark.parametrize("server", [[(200, b"{}", 1.0), ok("Heat")]], indirect=True)
def test_endpoint_times_out_then_retries(server):
    c = client(server, timeout_s=0.2, max_retries=1)
    assert c.chat("hi") == "Heat" and c.requests == 2


@pytest.mark.parametrize("server", [[(404, b"", 0)]], indirect=True)
def test_endpoint_does_not_retry_client_errors(server):
    c = client(server)
    with pytest.raises(EndpointError, match="HTTP 404.*model name"):
        c.chat("hi")
    assert c.requests == 1


@pytest.mark.parametrize(
    "server", [[(200, b"not json", 0), (200, b'{"choices": []}', 0)]], indirect=True
)
def test_endpoint_names_a_malformed_response(server):
    c = client(server)
    for _ in range(2):
        with pytest.raises(EndpointError, match="malformed response"):
            c.chat("hi")


@pytest.mark.parametrize("server", [[ok("Heat"), ok("Fargo")]], indirect=True)
def test_endpoint_cache_makes_reruns_free(server, tmp_path):
    first = client(server, tmp_path)
    assert first.chat("same prompt") == "Heat"
    again = client(server, tmp_path)  # a rerun: a new client, the same cache folder
    assert again.chat("same prompt") == "Heat" and again.requests == 0 and again.cache_hits == 1
    assert again.chat("another prompt") == "Fargo" and again.requests == 1
    assert not list(tmp_path.glob("*.tmp"))
    other_model = EndpointClient(server.url, "other", cache_dir=tmp_path)
    assert other_model._key("same prompt") != first._key("same prompt")


ANSWER_DAMAGE = {
    "edited": lambda p: p.write_text(p.read_text().replace("Heat", "Fargo")),  # valid JSON
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:10]),
    "no-sidecar": lambda p: p.with_name(p.name + ".sha256").unlink(),
    "not-json": "rewrite",
}


@pytest.mark.parametrize("damage", ANSWER_DAMAGE, ids=list(ANSWER_DAMAGE))
@pytest.mark.parametrize("server", [[ok("Heat"), ok("Heat")]], indirect=True)
def test_endpoint_a_damaged_cached_answer_is_named_removed_and_asked_again(
    server, tmp_path, damage
):
    from llm4rec_utils.tooling.files import DamagedCacheWarning, write_checked

    assert client(server, tmp_path).chat("same prompt") == "Heat"
    (path,) = tmp_path.glob("*.json")
    assert path.with_name(path.name + ".sha256").exists()
    if damage == "not-json":  # checksum fine, content unreadable
        write_checked(path, lambda tmp: tmp.write_text('{"answer": '))
    else:
        ANSWER_DAMAGE[damage](path)
    again = client(server, tmp_path)
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*removed.*rebuilt") as rec:
        assert again.chat("same prompt") == "Heat"  # not "Fargo", not a JSON traceback
    assert len(rec) == 1 and again.requests == 1 and again.cache_hits == 0
    third = client(server, tmp_path)
    assert third.chat("same prompt") == "Heat" and third.requests == 0  # the answer re-cached
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, path.name + ".sha256"]


@pytest.mark.parametrize("server", [[ok("a"), ok("b"), ok("c")]], indirect=True)
def test_endpoint_budget_stops_requests(server):
    c = client(server, budget=2)
    c.chat("1"), c.chat("2")
    with pytest.raises(BudgetExceeded, match="budget of 2"):
        c.chat("3")


def test_endpoint_rejects_a_url_without_scheme_and_a_dead_port():
    with pytest.raises(ValueError, match="http"):
        EndpointClient("localhost:8000", "m")
    dead = EndpointClient(
        "http://127.0.0.1:9/v1", "m", max_retries=1, timeout_s=1, sleep=lambda s: None
    )
    with pytest.raises(EndpointError, match="server running"):
        dead.chat("hi")


class WordTok:
    """A whitespace tokenizer over a fixed vocabulary (enough for the tiny GPT-2)."""

    pad_token_id, chat_template = 0, None

    def __init__(self):
        self.vocab = {"<pad>": 0}

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]}

    def decode(self, ids, skip_special_tokens=True):
        inv = {v: k for k, v in self.vocab.items()}
        return " ".join(inv.get(int(i), "?") for i in ids if int(i) != 0)


def test_causal_lm_likelihood_scores_each_title_after_the_prompt():
    tok = WordTok()
    lm = tiny_gpt2(200, seed=0, n_positions=512)
    ranker = CausalLMRanker(lm, tok, mode="likelihood")
    p = ranker.rank(["Casino", "Heat"], TITLES)
    assert sorted(p.order) == [0, 1, 2, 3] and p.valid
    # the batched score equals scoring each title alone, by hand
    prompt = ranker.prompt(["Casino"], TITLES)
    batched = ranker.title_logprobs(prompt, TITLES)
    for i, title in enumerate(TITLES):
        ids = tok(prompt)["input_ids"] + tok(" " + title)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(lm(input_ids=torch.tensor([ids])).logits[0], -1)
        n = len(tok(" " + title)["input_ids"])
        want = np.mean([logp[len(ids) - n - 1 + j, ids[len(ids) - n + j]].item() for j in range(n)])
        assert batched[i] == pytest.approx(want, abs=1e-4)


def test_causal_lm_generate_path_parses_whatever_comes_out():
    tok = WordTok()
    ranker = CausalLMRanker(
        tiny_gpt2(200, seed=0, n_positions=512), tok, mode="generate", max_new_tokens=8
    )
    p = ranker.rank(["Casino"], TITLES)  # a random model: the answer is noise, parsing copes
    assert p.n_candidates == 4 and len(set(p.order)) == len(p.order)
    with pytest.raises(ValueError, match="mode"):
        CausalLMRanker(tiny_gpt2(10), tok, mode="sample")


def test_bi_encoder_ranks_by_cosine_and_caches_encodings():
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([[1.0, 0.0] if "Heat" in t else [0.0, 1.0] for t in texts])

    r = BiEncoderRanker(encode)
    p = r.rank(["Heat"], ["Fargo", "Heat"])
    assert p.order[0] == 1 and p.valid
    r.rank(["Heat"], ["Heat", "Fargo"])
    assert len(calls) == 1  # every text was already encoded
    assert r.history_text(["A", "B"]) == "B; A"


def test_loopback_server_serves_a_python_model_to_the_client():
    from llm4rec_utils.llm_backends import LoopbackChatServer, echo_candidates

    with LoopbackChatServer(echo_candidates) as srv:
        ranker = EndpointRanker(EndpointClient(srv.url, "echo"))
        p = ranker.rank(["Casino", "Heat"], TITLES)
    assert p.order == [0, 1, 2, 3] and p.valid  # the shown order, history titles not included
