"""Execute every notebook with PROFILE=smoke and check what it recorded.

Each notebook must have an entry in FLOORS: a function that asserts its recorded metrics pass
sanity floors (a notebook that runs but records nothing, or nonsense, fails here).
"""

import re

import pytest

from llm4rec_utils.tooling.results import get_metric
from llm4rec_utils.tooling.runner import list_notebooks, run_notebooks


def floors_01(res):
    def m(protocol, metric):
        return get_metric(res, "01_data_preprocessing", "dataset", protocol, metric)

    assert m("ml-100k", "users") == 943
    assert m("ml-100k", "items") == 1682
    assert m("ml-100k", "interactions") == 100_000
    assert m("ml-100k", "density") == pytest.approx(100_000 / (943 * 1682))
    assert m("ml-100k", "kg_triples") == 91_631
    assert m("ml-100k", "kg_linked_items") == 1_598
    assert m("ml-100k", "ts_tie_share") == pytest.approx(0.76, abs=0.01)
    for protocol in ["random-80-20", "msr-75-25", "time-80-20"]:
        assert m(protocol, "train_rows") + m(protocol, "test_rows") == 100_000
    assert m("msr-75-25", "test_rows") == pytest.approx(25_000, rel=0.01)
    for protocol in ["recbole-8-1-1", "loo-full"]:
        total = m(protocol, "train_rows") + m(protocol, "valid_rows") + m(protocol, "test_rows")
        assert total == 100_000
    assert m("loo-full", "test_rows") == 943 and m("loo-full", "valid_rows") == 943


def floors_02(res):
    def m(model, metric):
        return get_metric(res, "02_word_vectorization", model, "msr-75-25", metric)

    for model in ["tfidf", "item2vec", "glove-seq", "encoder", "popularity"]:
        for metric in ["ndcg@10", "precision@10", "recall@10", "map@10"]:
            assert 0.0 <= m(model, metric) <= 1.0, (model, metric)
    # popularity does not depend on the profile: its value on this split is known to be ~0.2
    assert 0.15 < m("popularity", "ndcg@10") < 0.35
    # text-only vectors are weak here but far above a random ranking (NDCG@10 ~ 0.016)
    assert m("tfidf", "ndcg@10") > 0.02 and m("encoder", "ndcg@10") > 0.02

    # the BiLSTM over GloVe on 04's task: LSTM 2 directions x 4 gates x (64 (50 + 64) + 2 x 64),
    # plus the output layer on mean and max pooled states (4 x 64 + 1); embeddings frozen
    def t(model, metric):
        return get_metric(res, "02_word_vectorization", model, "tallrec-time", metric)

    for model in ["bilstm-glove", "bilstm-glove-all"]:
        assert t(model, "trainable_params") == 2 * 4 * (64 * 114 + 128) + 257
        assert 0.0 <= t(model, "auc_ci_low") <= t(model, "auc") <= t(model, "auc_ci_high") <= 1.0
    # even the smoke profile's 3,000 samples teach it more than chance (full: every sample)
    assert t("bilstm-glove-all", "auc") > 0.55


def floors_03(res):
    def m(model, protocol, metric):
        return get_metric(res, "03_attention_math", model, protocol, metric)

    assert m("attention-by-hand", "torch-equivalence", "max_abs_diff") <= 1e-6
    for model in ["sasrec", "popularity"]:
        for metric in ["hr@10", "ndcg@10"]:
            full, sampled = m(model, "loo-full", metric), m(model, "loo-sampled-100", metric)
            assert 0.0 <= full <= sampled <= 1.0, (model, metric)  # sampling inflates
    assert 0.02 < m("popularity", "loo-full", "hr@10") < 0.15
    assert m("sasrec", "loo-full", "train_wall_s") > 0
    for model in ["sasrec", "sasrec+refit", "sasrec-future3+refit"]:  # plain SASRec, then ablations
        low, high = m(model, "loo-full", "ndcg@10_ci_low"), m(model, "loo-full", "ndcg@10_ci_high")
        assert 0.0 <= low <= m(model, "loo-full", "ndcg@10") <= high <= 1.0, model
    # 44% of users have a tied last second: the validation and test items often share it
    assert 0.2 < m("loo-split", "loo-full", "test_valid_same_second_share") < 0.7


def floors_04(res):
    def m(model, protocol, metric, **key):
        return get_metric(res, "04_llm_finetuning", model, protocol, metric, **key)

    # the baselines do not depend on the profile (they use every training sample); on the smoke
    # profile's 200 test samples they must still be clearly above chance
    assert m("item-mean", "tallrec-time", "auc") > 0.6
    assert m("feature-logreg", "tallrec-time", "auc") > 0.65
    assert m("feature-logreg", "tallrec-split", "auc") > 0.7  # 0.768 measured on the whole split
    split_rows = [r for r in res["metrics"] if r["protocol"] == "tallrec-split"]
    assert any(r["model"].startswith("lm-lora-") for r in split_rows)
    lm_models = ["lm-probe", "lm-full", "lm-lora"]
    for model in ["item-mean", "popularity", "feature-logreg", *lm_models]:
        low, value = m(model, "tallrec-time", "auc_ci_low"), m(model, "tallrec-time", "auc")
        assert 0.0 <= low <= value <= m(model, "tallrec-time", "auc_ci_high") <= 1.0, model
    # LoRA r=8 on query/value of MiniLM: 6 layers x 2 x 8 x (384 + 384), plus the head trained
    # in full: pooler (384 x 384 + 384) and output layer (384 + 1)
    assert m("lm-lora", "tallrec-time", "trainable_params") == 6 * 2 * 8 * 768 + 147_840 + 385
    assert m("lm-full", "tallrec-time", "trainable_params") > 22_000_000
    # the PEFT family on one budget: each trains the same head (pooler + output layer) and its
    # adapter by formula; LoRA r=8 and prefix tuning with 16 tokens happen to be the same size
    head = 147_840 + 385
    family = {"lm-lora": 73_728, "lm-ia3": 16_128, "lm-adalora": 110_736, "lm-prefix": 73_728}
    for model in [*family, "lm-full", "lm-full-no-warmup", "lm-full+profile"]:
        low, value = (
            m(model, "tallrec-time-bench", "auc_ci_low"),
            m(model, "tallrec-time-bench", "auc"),
        )
        assert 0.0 <= low <= value <= m(model, "tallrec-time-bench", "auc_ci_high") <= 1.0, model
    for model, adapter in family.items():
        assert m(model, "tallrec-time-bench", "trainable_params") == adapter + head, model
    for model in ["lm-full-no-warmup", "lm-full+profile"]:  # paired gains of the two ablations
        keys = ["auc_gain_ci_low", "auc_gain", "auc_gain_ci_high"]
        low, gain, high = (m(model, "tallrec-time-bench", k) for k in keys)
        assert -1.0 < low <= gain <= high < 1.0, model
    for model in lm_models:
        assert m(model, "tallrec-time", "train_wall_s") > 0
    assert 0.0 <= m("lm-lora", "tallrec-time", "auc", shots=16) <= 1.0
    for model in ["lm-regression", "mf"]:
        assert 0.5 < m(model, "tallrec-time-rating", "rmse") < 2.0
    for model in ["lm-full", "popularity", "cf"]:
        assert 0.0 <= m(model, "rerank-20", "hr@1") <= m(model, "rerank-20", "ndcg@10") <= 1.0
    # popularity and EASE do not depend on the profile: far above the random HR@1 of 0.05
    assert m("cf", "rerank-20", "hr@1") > 0.1


def floors_08(res):
    def m(model, protocol, metric):
        return get_metric(res, "08_compute_and_cost", model, protocol, metric)

    for kind in ["unstructured", "structured"]:
        name = f"lm-pruned-{kind}-50"
        assert m(name, "tallrec-time-prune", "sparsity") == pytest.approx(0.5, abs=0.01)
        keys = ["auc_ci_low", "auc", "auc_ci_high"]
        low, value, high = (m(name, "tallrec-time-prune", k) for k in keys)
        assert 0.0 <= low <= value <= high <= 1.0
        assert m(name, "tallrec-time-prune", "speedup") > 0

    for model in ["mf", "lightgcn", "sasrec", "gpt-rec", "lm-full", "lm-int8", "student-mlp"]:
        for metric in ["params", "flops_per_item", "latency_ms_b1", "throughput_b256"]:
            assert m(model, "compute-cpu", metric) > 0, (model, metric)
        assert m(model, "compute-cpu", "cost_per_million") > 0
    # a cross-encoder pays a transformer pass per (user, item) pair; MF pays one dot product
    assert m("lm-full", "compute-cpu", "flops_per_item") > 1000 * m(
        "mf", "compute-cpu", "flops_per_item"
    )
    assert m("mf", "compute-cpu", "flops_per_item") == pytest.approx(2 * 64, rel=0.1)
    assert m("lm-full", "compute-cpu", "params") == m("lm-int8", "compute-cpu", "params")
    for model in ["lm-int8", "student-mlp"]:
        assert 0.0 <= m(model, "tallrec-time", "auc") <= 1.0
        assert m(model, "tallrec-time", "speedup") > 0


def floors_06(res):
    def m(model, protocol, metric):
        return get_metric(res, "06_user_item_graphs", model, protocol, metric)

    assert 0.85 < m("mf", "5-fold", "rmse") < 1.1  # smoke trains 2 epochs; full reaches ~0.91
    models = ["popularity", "itemknn", "ease", "als", "bpr", "lightgcn", "lm-graph", "fusion", "kg"]
    for protocol in ["msr-75-25", "recbole-8-1-1"]:
        for model in models:
            assert 0.0 <= m(model, protocol, "ndcg@10") <= 1.0
        # closed-form models do not depend on the profile: they must beat popularity clearly
        assert m("ease", protocol, "ndcg@10") > 1.5 * m("popularity", protocol, "ndcg@10")
    assert m("ease", "recbole-8-1-1", "hr@10") > 0.5
    # text similarity scores cold items; popularity cannot tell them apart (random ranking)
    assert m("lm-graph", "cold-items", "hr@10") > m("popularity", "cold-items", "hr@10") + 0.1
    for policy in ["epsilon-greedy", "ucb", "thompson"]:
        assert m(policy, "bandit-replay", "cumulative_reward") > 0
    # ALS (a closed-form alternation, a few seconds) beats popularity on every profile
    assert m("als", "msr-75-25", "ndcg@10") > m("popularity", "msr-75-25", "ndcg@10")
    # the article's cos x rating reads the label: near-perfect AUC, far above the honest scores
    assert m("lm-cos-times-rating", "msr-75-25-liked", "auc") > 0.9
    leak = m("lm-cos-times-rating", "msr-75-25-liked", "auc")
    assert m("lm-cos", "msr-75-25-liked", "auc_ci_high") < leak


def floors_05(res):
    def m(model, protocol, metric):
        return get_metric(res, "05_generative_recommendation", model, protocol, metric)

    models = [
        "gpt-rec",
        "gpt-rec-pretrained-finetuned",
        "gpt-rec-scratch-window",
        "gpt-rec-text",
        "sasrec-same-budget",  # not 03's "sasrec": another budget and length
        "popularity",
    ]
    for model in models:
        for metric in ["hr@10", "ndcg@10"]:
            full, sampled = m(model, "loo-full", metric), m(model, "loo-sampled-100", metric)
            assert 0.0 <= full <= sampled <= 1.0, (model, metric)
    assert 0.02 < m("popularity", "loo-full", "hr@10") < 0.15
    assert 100_000 < m("gpt-rec", "loo-full", "params") < 10_000_000
    assert m("gpt-rec", "loo-full", "train_wall_s") > 0
    # generation runs the trained model: its first greedy item is the full ranking's top item
    assert m("gpt-rec", "generation", "first_item_agrees") == 1.0


def floors_07(res):
    def m(model, protocol, metric):
        return get_metric(res, "07_evaluation", model, protocol, metric)

    for model in ["popularity", "itemknn", "ease", "bpr"]:
        assert m(model, "loo-sampled-100", "ndcg@10") > m(model, "loo-full", "ndcg@10")
        lo, hi = m(model, "msr-75-25", "ndcg@10_ci_low"), m(model, "msr-75-25", "ndcg@10_ci_high")
        assert lo <= m(model, "msr-75-25", "ndcg@10") <= hi
        assert 0 < m(model, "msr-75-25", "coverage") <= 1
    assert m("ease", "msr-75-25", "ndcg@10") > 0.4  # closed form: independent of the profile
    assert m("popularity", "msr-75-25", "popularity_bias") > 0.9
    assert m("popularity", "msr-75-25", "coverage") < m("ease", "msr-75-25", "coverage")
    assert m("random-split", "random-80-20", "future_leak_share") > 0.5

    # the feedback loop: every policy recorded at round 1; popularity shows only the head, and
    # random slots reach far more of the catalogue than EASE alone (any profile)
    def loop(policy, metric):
        return get_metric(res, "07_evaluation", policy, "feedback-loop-msr", metric, round=1)

    policies = ["ease (refitted)", "ease (fitted once)", "ease + 2 random slots (refitted)"]
    for policy in [*policies, "popularity (refitted)"]:
        for metric in ["precision", "recall_cum", "coverage", "head_share", "exposure_gini"]:
            assert 0.0 <= loop(policy, metric) <= 1.0, (policy, metric)
    assert loop("popularity (refitted)", "head_share") == 1.0
    assert loop(policies[2], "coverage") > 2 * loop(policies[0], "coverage")
    # round 1 is the same model for "refitted" and "fitted once"
    assert loop(policies[0], "precision") == loop(policies[1], "precision")


def floors_09(res):
    def m(model, metric, protocol="rerank-20-zero-shot"):
        return get_metric(res, "09_prompting_llms", model, protocol, metric)

    assert m("random-order", "hr@1") == 0.05
    assert m("random-order", "ndcg@10") == pytest.approx(0.2272, abs=1e-4)
    for model in ["minilm-biencoder", "popularity", "ease", "sasrec"]:
        low, value, high = (m(model, k) for k in ["ndcg@10_ci_low", "ndcg@10", "ndcg@10_ci_high"])
        assert 0.0 <= low <= value <= high <= 1.0, model
        assert m(model, "valid_share") == 1.0  # score-based rankers always give a full order
        assert m(model, "position_spread") < 0.05  # and ignore the shown order (ties aside)
    # collaborative rankers clear the random floor even on the smoke profile's 60 users
    assert m("ease", "ndcg@10") > 0.3 and m("popularity", "ndcg@10") > 0.3
    # code-path checks (random GPT-2, scripted echo server) are never recorded as results
    recorded = {r["model"] for r in res["metrics"] if r["notebook"] == "09_prompting_llms"}
    assert not any(name.startswith(("tiny-random", "scripted")) for name in recorded)


FLOORS = {
    "07_evaluation": floors_07,
    "05_generative_recommendation": floors_05,
    "06_user_item_graphs": floors_06,
    "01_data_preprocessing": floors_01,
    "02_word_vectorization": floors_02,
    "03_attention_math": floors_03,
    "04_llm_finetuning": floors_04,
    "08_compute_and_cost": floors_08,
    "09_prompting_llms": floors_09,
}


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke-build")


@pytest.fixture(scope="session")
def smoke_run(smoke_build):
    """Every notebook once, on the smoke profile, two at a time (the runner orders them by the
    notebooks they read and gives each its share of the cores): the tests below check each
    notebook's own run. Run alone (``-k 03``), only the selected notebooks execute."""
    return {}


def _run(notebook, smoke_run, smoke_build, selected):
    if notebook.stem not in smoke_run:
        todo = [nb for nb in list_notebooks() if nb.stem in selected and nb.stem not in smoke_run]
        results, runs = run_notebooks(todo, profile="smoke", build_dir=smoke_build, html=False,
                                      jobs=2)
        for nb, run in zip(todo, runs, strict=True):
            smoke_run[nb.stem] = (results, run)
    return smoke_run[notebook.stem]


@pytest.fixture(scope="session")
def selected_notebooks(request):
    return {item.callspec.params["notebook"].stem for item in request.session.items
            if item.originalname == "test_notebook_smoke"}


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", list_notebooks(), ids=lambda p: p.stem)
def test_notebook_smoke(notebook, smoke_run, smoke_build, selected_notebooks):
    assert notebook.stem in FLOORS, f"add sanity floors for {notebook.stem} to FLOORS"
    results, run = _run(notebook, smoke_run, smoke_build, selected_notebooks)
    assert run.status == "ok", run.error
    recorded = [m for m in results["metrics"] if m["notebook"] == notebook.stem]
    assert recorded, f"{notebook.stem} recorded no metrics"
    FLOORS[notebook.stem](results)
    claims = [c for c in results.get("claims", []) if c["notebook"] == notebook.stem[:2]]
    assert claims, f"{notebook.stem} judged no claim"
    assert all(c["verdict"] in ("supported", "not supported", "undecided") for c in claims)
    # the summary is printed by the run: its output holds this run's numbers and verdicts
    import nbformat

    executed = nbformat.read(smoke_build / notebook.name, as_version=4)
    summary = [c for c in executed.cells if "summary" in c.metadata.get("tags", [])]
    assert len(summary) == 1, "one cell tagged 'summary'"
    text = "".join(o.get("text", "") for o in summary[0].outputs)
    assert re.search(r"\d\.\d", text), "the summary prints no number"
    verdicts = re.search(r"\[(supported|not supported|undecided)\]", text)
    assert verdicts, "the summary gives no verdict"
