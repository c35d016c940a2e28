"""The registered claims: what each notebook judges, with its id, article, kind and margin.

A notebook decides a claim with :func:`judge` from an :class:`~llm4rec_utils.verdicts.Evidence`
(a paired interval, a timing ratio, a measured property) and records it in ``results.json``
under ``claims``; the Summary prints :func:`claim_lines`. Nothing else states a verdict.
``docs/claims.md`` lists the same ids (a test checks the two agree).
"""

# ruff: noqa: E501  (the registry is a table: one claim per line)
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .verdicts import Evidence, Verdict, decide

CHATGPT = "ChatGPT-rec study"
PERSONAL = "LLM personalisation"
POTENTIAL = "LLM-rec potential and challenges"
PIPELINE = "LLM4Rec pipeline"
COMPUTE = "LLM compute limits"
COLLECTION = "collection"  # a claim the collection adds to teach or check a method
ARTICLES = (CHATGPT, PERSONAL, POTENTIAL, PIPELINE, COMPUTE, COLLECTION)


@dataclass(frozen=True)
class Claim:
    id: str
    article: str
    notebook: str  # "04"
    section: str  # "§3c"
    statement: str
    kind: str = "superiority"  # superiority | non-inferiority | equivalence | property
    margin: float | None = None  # for non-inferiority / equivalence, in the effect's unit
    margin_reason: str = ""
    recipe: bool = False  # about a training recipe: judged over training seeds
    lower_is_better: bool = False  # the effect's metric (e.g. RMSE, seconds)


def _c(*args, **kw) -> Claim:
    return Claim(*args, **kw)


_ALL = [
    # 01 data preprocessing
    _c("popularity-skew", COLLECTION, "01", "§4", "a tenth of the movies draws over a third of the ratings", "property"),
    _c("timestamp-ties", COLLECTION, "01", "§6", "most ratings share their user's timestamp with another", "property"),
    _c("loo-tiebreak-seeded", COLLECTION, "01", "§6", "the leave-one-out tie-break is reproducible by seed and changes with it", "property"),
    _c("leak-checks-fire", COLLECTION, "01", "§6", "the leakage checks flag a split with a planted future interaction and pass the clean one", "property"),
    # 02 word vectorization
    _c("item2vec-beats-popularity", COMPUTE, "02", "§8", "item2vec (vectors from viewing sequences) beats popularity"),
    _c("glove-seq-beats-popularity", COMPUTE, "02", "§8", "GloVe fitted on viewing sequences beats popularity"),
    _c("text-beats-popularity", COMPUTE, "02", "§8", "the validation-chosen text-only vectors recommend better than popularity"),
    _c("text-beats-random", COMPUTE, "02", "§8", "the validation-chosen text-only vectors beat a random ranking"),
    _c("skipgram-matches-gensim", COLLECTION, "02", "§5", "our torch skip-gram and gensim's share more neighbours than chance", "property"),
    _c("bilstm-beats-chance", COMPUTE, "02", "§9", "a BiLSTM over GloVe reads 04's like/dislike prompts better than chance (AUC above 0.5)", "property"),
    _c("bilstm-more-data", COMPUTE, "02", "§9", "more training samples help the BiLSTM", recipe=True),
    # 03 attention math
    _c("attention-matches-torch", COMPUTE, "03", "§1", "attention by hand equals PyTorch's (to 1e-6)", "property"),
    _c("sqrt-dk-saturation", COMPUTE, "03", "§2", "without 1/sqrt(d_k) the softmax saturates", "property"),
    _c("attention-superlinear", COMPUTE, "03", "§7", "attention time grows faster than linearly in n", "property"),
    _c("sasrec-beats-popularity", COLLECTION, "03", "§8", "SASRec beats popularity (full ranking NDCG@10)"),
    _c("sampled-inflates-hr", COLLECTION, "03", "§8", "100 sampled negatives inflate HR@10", "property"),
    _c("sampling-shrinks-gap", COLLECTION, "03", "§8", "sampling shrinks the relative gap between SASRec and popularity", "property"),
    _c("sasrec-refit-helps", COLLECTION, "03", "§8b", "refitting SASRec on train+validation improves test NDCG@10", recipe=True),
    _c("sasrec-soft-target-helps", COLLECTION, "03", "§8b", "a soft future-3 target improves SASRec's test NDCG@10", recipe=True),
    # 04 LLM fine-tuning
    _c("lm-beats-features", PERSONAL, "04", "§3", "the validation-chosen language model beats the four-feature logistic regression"),
    _c("lm-adds-to-features", PERSONAL, "04", "§3e", "the LM's score adds to the four features (stacking)"),
    _c("lora-matches-full", PIPELINE, "04", "§3d", "LoRA matches full fine-tuning on the same budget", "equivalence", margin=0.02, margin_reason="0.02 AUC: below it a reader would not choose between the two", recipe=True),
    _c("warmup-helps", PIPELINE, "04", "§3h", "a learning-rate warm-up helps full fine-tuning", recipe=True),
    _c("profile-helps", PERSONAL, "04", "§3h", "the user's profile in the prompt helps", recipe=True),
    _c("transformer-beats-bilstm", COMPUTE, "04", "§6", "the fine-tuned transformer beats the BiLSTM over GloVe on the same samples"),
    _c("encoder-regression-beats-mf", PIPELINE, "04", "§4", "rating regression with the encoder beats MF (RMSE)", lower_is_better=True),
    _c("rerank-beats-random", COLLECTION, "04", "§5", "the like-classifier re-ranks 20 candidates better than random (HR@1)"),
    # 05 generative recommendation
    _c("gptrec-noninferior-sasrec", CHATGPT, "05", "§2", "GPT-rec ranks at least as well as SASRec on the same budget", "non-inferiority", margin=0.01, margin_reason="0.01 NDCG@10, about a tenth of either model's score", recipe=True),
    _c("gptrec-beats-popularity", CHATGPT, "05", "§2", "an autoregressive model trained on behaviour beats popularity"),
    _c("greedy-equals-top", CHATGPT, "05", "§3", "the first greedy item is the full ranking's top item", "property"),
    _c("larger-gptrec-better", CHATGPT, "05", "§5", "a larger GPT-rec is better at this budget", recipe=True),
    _c("item-text-helps-rare", CHATGPT, "05", "§6", "item text in the token helps rarely seen targets", recipe=True),
    _c("sampled-inflates-ndcg-05", COLLECTION, "05", "§7", "100 sampled negatives inflate every model's NDCG@10", "property"),
    _c("pretraining-helps-window", PIPELINE, "05", "§4", "pre-training then fine-tuning beats training on the recent window alone", recipe=True),
    _c("pretraining-beats-all-data", PIPELINE, "05", "§4", "pre-training then fine-tuning beats GPT-rec trained on all the data", recipe=True),
    # 06 user/item graphs
    _c("mf-beats-surprise-svd", POTENTIAL, "06", "§2", "our explicit MF beats Surprise's published SVD RMSE", "property", lower_is_better=True),
    _c("ease-beats-popularity", COLLECTION, "06", "§3", "EASE beats popularity"),
    _c("lm-graph-rivals-cf", POTENTIAL, "06", "§4", "a language-model item graph alone rivals the validation-chosen CF model", "non-inferiority", margin=0.02, margin_reason="0.02 NDCG@10, about a twentieth of the CF score"),
    _c("lm-fusion-helps", POTENTIAL, "06", "§4", "fusing the LM graph into the validation-chosen CF model helps"),
    _c("kg-links-match-films", COLLECTION, "06", "§5", "films that share a director in the knowledge graph share a MovieLens genre more often than random pairs of films (the item-entity links point at the right films)"),
    _c("kg-fusion-helps", PERSONAL, "06", "§5", "fusing the knowledge graph into the CF model helps"),
    _c("als-beats-bpr", COLLECTION, "06", "§3", "confidence-weighted ALS ranks better than BPR"),
    _c("cos-similarity-predicts-liking", POTENTIAL, "06", "§4", "the servable part of cos(h_u, h_i) × r_ui, the similarity alone, tells liked from disliked ratings better than chance (the formula itself reads the label)", "property"),
    _c("propagation-beats-mf", COLLECTION, "06", "§3", "graph propagation (LightGCN with K > 0 chosen on validation) beats BPR-MF with its own tuned recipe"),
    _c("text-cold-start", POTENTIAL, "06", "§6", "text scores cold-start items better than popularity (HR@10)"),
    _c("bandit-beats-random-arm", PERSONAL, "06", "§7", "a bandit (UCB1) collects more clicks than picking a recommender at random each round"),
    # 07 evaluation
    _c("metrics-agree", COLLECTION, "07", "§1", "hand, package and scikit-learn agree on every toy metric", "property"),
    _c("protocol-changes-order", COLLECTION, "07", "§2", "the protocol changes the order of two models (paired, both protocols)"),
    _c("sampled-inflates-ndcg-07", COLLECTION, "07", "§2", "100 sampled negatives inflate every model's leave-one-out NDCG@10", "property"),
    _c("random-split-leaks", COLLECTION, "07", "§2", "more than half of a random split's test interactions are older than a training interaction of their user (it leaks the future)", "property"),
    _c("best-two-differ", COLLECTION, "07", "§3", "the two best models differ beyond noise"),
    _c("popularity-head-share", COLLECTION, "07", "§4", "popularity recommends from the head more than EASE does"),
    _c("heavy-users-higher", COLLECTION, "07", "§4", "heavy users get a higher NDCG@10 than light users"),
    _c("feedback-narrows", PERSONAL, "07", "§5", "refitting on its own feedback narrows what EASE shows, across rounds"),
    _c("random-slots-widen", PERSONAL, "07", "§5", "two random slots of ten widen what users see"),
    # 08 compute and cost
    _c("lm-compute-limited", COMPUTE, "08", "§3", "a cross-encoder costs over 1,000× MF's FLOPs per scored item", "property"),
    _c("int8-faster", COMPUTE, "08", "§5", "int8 quantisation makes the cross-encoder faster on this CPU"),
    _c("int8-keeps-quality", COMPUTE, "08", "§5", "int8 quantisation keeps the cross-encoder's AUC", "non-inferiority", margin=0.01, margin_reason="0.01 AUC, a loss a serving team would accept for the speed"),
    _c("distilled-keeps-quality", COMPUTE, "08", "§5", "a distilled student keeps the teacher's AUC", "non-inferiority", margin=0.02, margin_reason="0.02 AUC, a loss a serving team would accept for the speed", recipe=True),
    _c("distilled-beats-features", COMPUTE, "08", "§5", "the distilled student beats the four-feature logistic regression it is given the features of", recipe=True),
    _c("pruned-keeps-quality", COMPUTE, "08", "§5", "half the weights pruned by magnitude, the cross-encoder keeps its AUC", "non-inferiority", margin=0.01, margin_reason="0.01 AUC, a loss a serving team would accept for the size"),
    _c("sparsity-faster", COMPUTE, "08", "§5", "unstructured sparsity makes the cross-encoder faster on this CPU"),
    # 09 prompting LLMs
    _c("llm-beats-random", CHATGPT, "09", "§5d", "the prompted LLM, its setting chosen on validation users, ranks candidates better than a random order"),
    _c("llm-beats-sasrec", CHATGPT, "09", "§5d", "the prompted LLM, its setting chosen on validation users, ranks the same test users' candidates better than SASRec (per-user NDCG@10, paired)"),
    _c("llm-beats-ease", CHATGPT, "09", "§5d", "the prompted LLM, its setting chosen on validation users, ranks the same test users' candidates better than EASE (per-user NDCG@10, paired)"),
    _c("llm-beats-popularity", CHATGPT, "09", "§5d", "the prompted LLM, its setting chosen on validation users, ranks the same test users' candidates better than popularity (per-user NDCG@10, paired)"),
    _c("encoder-beats-random", CHATGPT, "09", "§3", "the sentence encoder ranks candidates better than a random order"),
    _c("sasrec-beats-encoder", CHATGPT, "09", "§3b", "behaviour beats text: SASRec ranks the same candidates better than the encoder"),
    _c("position-bias", CHATGPT, "09", "§4a", "the ranker's NDCG@10 depends on where the true item is placed"),
    _c("history-order-matters", CHATGPT, "09", "§4b", "the order of the history changes the encoder's ranking"),
    _c("popularity-bias", CHATGPT, "09", "§4c", "the encoder puts more popular items first than users pick"),
]

CLAIMS: dict[str, Claim] = {}
for _claim in _ALL:
    if _claim.id in CLAIMS:
        raise RuntimeError(f"claim id {_claim.id} registered twice")
    CLAIMS[_claim.id] = _claim


def get_claim(claim_id: str) -> Claim:
    try:
        return CLAIMS[claim_id]
    except KeyError:
        raise KeyError(
            f"no claim registered as {claim_id!r}; see llm4rec_utils/claims.py"
        ) from None


def judge(
    claim_id: str,
    evidence: Evidence,
    *,
    results_path: str | os.PathLike | None = None,
    seed_floor: float | None = None,
    note: str = "",
    stand_in: str = "",
) -> Verdict:
    """Decide a registered claim from its evidence (and record it when ``results_path`` is set).

    ``evidence`` is oriented as "A − B" for the claim's A and B; for a ``lower_is_better``
    claim the engine flips it, so the recorded effect is always positive in the claim's favour.
    A recipe claim judged on one training seed cannot be decided on an effect smaller than
    ``seed_floor`` (the seed spread measured for a cheaper model of the same notebook); with
    no ``seed_floor`` it stays undecided. ``stand_in`` says why the evidence comes from a
    stand-in for what the claim is about (a random-weight model standing in for an LLM): the
    interval is recorded, the verdict is "undecided", and the line says why.
    """
    claim = get_claim(claim_id)
    if not isinstance(evidence, Evidence):
        raise TypeError(
            f"{claim_id}: judge needs an Evidence (from verdicts.paired_diff, ...), "
            f"not {type(evidence).__name__}: a verdict is computed, never written"
        )
    effect, low, high = evidence.effect, evidence.ci_low, evidence.ci_high
    expected = None
    if claim.lower_is_better and evidence.expected is None:
        effect, low, high = -effect, -high, -low
    if evidence.expected is not None:  # an equality property
        if claim.kind != "property":
            raise ValueError(f"{claim_id}: an equality check needs a property claim")
        expected = evidence.expected
        word = "supported" if abs(evidence.effect - expected) <= evidence.tol else "not supported"
    else:
        word = decide(claim.kind, low, high, claim.margin)
    notes = [note] if note else []
    if stand_in:
        word = "undecided"
        notes.append(f"not a test of the claim: {stand_in}")
    if not evidence.paired:
        notes.append("unpaired: the two sides were measured on different units")
    if claim.recipe and evidence.seeds == 1 and word != "undecided":
        if seed_floor is None or not math.isfinite(seed_floor):
            word = "undecided"
            notes.append("no seed spread measured to compare the effect with: not decided")
        elif claim.kind in ("non-inferiority", "equivalence"):
            # what decides is where the interval lies against the margin: widened by the seed
            # spread on both sides, it must still give the same answer
            if decide(claim.kind, low - seed_floor, high + seed_floor, claim.margin) != word:
                word = "undecided"
                notes.append(
                    f"one training seed; the interval widened by the seed spread "
                    f"{seed_floor:.4f} measured in this notebook reaches the margin"
                )
        elif abs(effect) < seed_floor:
            word = "undecided"
            notes.append(
                f"one training seed; the effect is smaller than the seed spread "
                f"{seed_floor:.4f} measured in this notebook"
            )
    if evidence.seed_spread is not None:
        notes.append(f"between-seed std of the effect {evidence.seed_spread:.4f}")
    extra = {"seed_spread": evidence.seed_spread, "recipe": claim.recipe}
    if evidence.threshold is not None:
        extra["threshold"] = evidence.threshold
        extra["lower_is_better"] = claim.lower_is_better
    if expected is not None:
        extra["expected"], extra["tol"] = expected, evidence.tol
    if claim.margin_reason:
        extra["margin_reason"] = claim.margin_reason
    v = Verdict(
        claim.id,
        claim.article,
        claim.notebook,
        claim.section,
        claim.statement,
        claim.kind,
        word,
        effect,
        low,
        high,
        claim.margin,
        evidence.test,
        evidence.units,
        evidence.seeds,
        "; ".join(notes),
        extra,
    )
    if results_path is not None:
        record_claim(results_path, v)
    return v


def record_claim(path: str | os.PathLike, verdict: Verdict) -> None:
    """Store a verdict in ``results.json``'s ``claims`` list (a re-run replaces its record)."""
    from .tooling.results import locked, read_results, write_results

    with locked(path):
        data = read_results(path)
        claims = [c for c in data.get("claims", []) if c.get("id") != verdict.id]
        claims.append(verdict.record())
        data["claims"] = claims
        write_results(path, data)


def read_claims(results: dict | str | os.PathLike, notebook: str | None = None) -> list[dict]:
    """Recorded verdicts (of one notebook, e.g. ``"04"``), in registry order."""
    from .tooling.results import read_results

    data = results if isinstance(results, dict) else read_results(Path(results))
    order = {cid: i for i, cid in enumerate(CLAIMS)}
    rows = [c for c in data.get("claims", []) if notebook is None or c["notebook"] == notebook]
    return sorted(rows, key=lambda c: order.get(c["id"], len(order)))


def verdict_from_record(rec: dict) -> Verdict:
    """A :class:`Verdict` back from its ``results.json`` record."""
    fields = Verdict.__dataclass_fields__
    kw = {k: rec.get(k) for k in fields if k != "extra"}
    kw["extra"] = {k: v for k, v in rec.items() if k not in fields}
    kw["note"] = kw["note"] or ""
    return Verdict(**kw)


def claim_lines(results: dict | str | os.PathLike, notebook: str) -> str:
    """The Summary's verdicts, grouped under the article each claim tests."""
    rows = read_claims(results, notebook)
    out = []
    for article in ARTICLES:
        mine = [r for r in rows if r["article"] == article]
        if not mine:
            continue
        out.append(f"{article}:" if article != COLLECTION else "Checks the collection adds:")
        out += [f"  {verdict_from_record(r).line()}" for r in mine]
    missing = [
        c.id
        for c in CLAIMS.values()
        if c.notebook == notebook and c.id not in {r["id"] for r in rows}
    ]
    if missing:
        out.append(f"Not judged in this run: {', '.join(missing)}")
    return "\n".join(out)


def registry_markdown() -> str:
    """The claims table of ``docs/claims.md``, generated from the registry (a test keeps the
    two identical: ``python -c "from llm4rec_utils.claims import registry_markdown as r; print(r())"``)."""
    rows = ["| id | article | claim | tested in | kind |", "| --- | --- | --- | --- | --- |"]
    for c in CLAIMS.values():
        kind = c.kind
        if c.margin is not None:
            kind += f", margin {c.margin:g} ({c.margin_reason})"
        if c.recipe:
            kind += (
                "; a training recipe: judged over training seeds where the budget allows, "
                "otherwise on one seed held to the notebook's seed spread"
            )
        rows.append(f"| `{c.id}` | {c.article} | {c.statement} | {c.notebook} {c.section} | {kind} |")
    return "\n".join(rows)
