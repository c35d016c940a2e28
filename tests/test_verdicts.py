"""The verdict engine: the decision rule, paired and seed-combined intervals, the registry."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from llm4rec_utils import claims as C
from llm4rec_utils import verdicts as V

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "kind, low, high, margin, expected",
    [
        ("superiority", 0.01, 0.03, None, "supported"),
        ("superiority", -0.03, -0.01, None, "not supported"),
        ("superiority", -0.01, 0.03, None, "undecided"),
        ("superiority", 0.0, 0.03, None, "undecided"),  # touching 0 is a tie
        ("equivalence", -0.01, 0.01, 0.02, "supported"),
        ("equivalence", -0.03, 0.01, 0.02, "undecided"),
        ("equivalence", 0.03, 0.05, 0.02, "not supported"),
        ("equivalence", -0.05, -0.03, 0.02, "not supported"),
        ("non-inferiority", -0.01, 0.05, 0.02, "supported"),
        ("non-inferiority", -0.03, 0.05, 0.02, "undecided"),
        ("non-inferiority", -0.06, -0.03, 0.02, "not supported"),
    ],
)
def test_decision_rule_on_hand_made_intervals(kind, low, high, margin, expected):
    assert V.decide(kind, low, high, margin) == expected


def test_margin_is_required_for_equivalence_and_bounds_must_be_ordered():
    with pytest.raises(ValueError, match="margin"):
        V.decide("equivalence", -0.1, 0.1)
    with pytest.raises(ValueError, match="swapped"):
        V.decide("superiority", 0.2, 0.1)
    with pytest.raises(ValueError, match="unknown claim kind"):
        V.decide("better", 0.1, 0.2)


def test_a_synthetic_tie_is_undecided():
    rng = np.random.default_rng(0)
    a = rng.random(500)
    ev = V.paired_diff(a, a[rng.permutation(500)], seed=1)  # same distribution, no effect
    assert ev.ci_low < 0 < ev.ci_high
    assert C.judge("sasrec-beats-popularity", ev).verdict == "undecided"
    exact = V.paired_diff(a, a)
    assert exact.effect == exact.ci_low == exact.ci_high == 0
    assert C.judge("sasrec-beats-popularity", exact).verdict == "undecided"


def test_paired_is_narrower_than_unpaired_on_correlated_units():
    rng = np.random.default_rng(0)
    user = rng.normal(0, 1, 400)  # what a user shares across models
    a = user + 0.05 + rng.normal(0, 0.1, 400)
    b = user + rng.normal(0, 0.1, 400)
    paired = V.paired_diff(a, b, seed=0)
    unpaired = V.unpaired_diff(a, b, seed=0)
    assert paired.ci_high - paired.ci_low < 0.3 * (unpaired.ci_high - unpaired.ci_low)
    assert C.judge("sasrec-beats-popularity", paired).verdict == "supported"
    verdict = C.judge("sasrec-beats-popularity", unpaired)
    assert verdict.verdict == "undecided" and "unpaired" in verdict.note


def _toy_training(seed: int, n_users: int = 300) -> np.ndarray:
    """Per-user scores of a 'trained model' whose quality moves with its training seed."""
    users = np.random.default_rng(123).normal(0.3, 0.1, n_users)  # fixed test users
    run = np.random.default_rng(seed)
    return users + run.normal(0, 0.05) + run.normal(0, 0.02, n_users)  # seed shift + noise


def test_seed_combined_interval_is_wider_than_one_seed_on_noisy_training():
    base = _toy_training(1000)
    single = V.paired_diff(_toy_training(0), base, seed=0)
    multi = V.paired_diff(np.stack([_toy_training(s) for s in range(5)]), base, seed=0)
    assert multi.seeds == 5 and multi.seed_spread is not None and multi.seed_spread > 0.01
    assert (multi.ci_high - multi.ci_low) > 2 * (single.ci_high - single.ci_low)


def test_a_recipe_claim_on_one_seed_needs_a_seed_floor():
    rng = np.random.default_rng(0)
    a = rng.random(300)
    ev = V.paired_diff(a + 0.02, a)  # a clear effect, one seed
    assert C.judge("warmup-helps", ev).verdict == "undecided"
    assert C.judge("warmup-helps", ev, seed_floor=0.05).verdict == "undecided"
    assert C.judge("warmup-helps", ev, seed_floor=0.01).verdict == "supported"


def test_lower_is_better_claims_are_flipped():
    rng = np.random.default_rng(0)
    rmse_encoder, rmse_mf = rng.random(200), rng.random(200) + 0.1
    ev = V.paired_diff(rmse_encoder, rmse_mf)  # encoder − MF < 0: the encoder is better
    v = C.judge("encoder-regression-beats-mf", ev)
    assert v.verdict == "supported" and v.effect > 0


def test_auc_diff_pairs_samples_and_seeds():
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    groups = rng.integers(0, 40, n)
    good = y + rng.normal(0, 0.8, n)
    ev = V.auc_diff(y, good, rng.normal(0, 1, n), groups, n_boot=200)
    assert ev.ci_low > 0 and ev.units == 40
    seeds = np.stack([y + rng.normal(0, 0.8, n) for _ in range(3)])
    ev3 = V.auc_diff(y, seeds, good, groups, n_boot=200)
    assert ev3.seeds == 3 and ev3.ci_low < ev3.effect < ev3.ci_high


def test_timing_ratio_needs_ten_repeats_and_contains_one_when_equal():
    rng = np.random.default_rng(0)
    same = V.ratio_ci(rng.normal(1, 0.05, 12), rng.normal(1, 0.05, 12))
    assert same.ci_low < 0 < same.ci_high
    assert C.judge("int8-faster", same).verdict == "undecided"
    fast = V.ratio_ci(rng.normal(2, 0.05, 12), rng.normal(1, 0.05, 12))
    assert fast.ci_low > 0.5
    with pytest.raises(ValueError, match="10 repeats"):
        V.ratio_ci([1, 2], [1, 2])
    ta, tb = V.time_alternating(lambda: None, lambda: sum(range(1000)), repeats=10)
    assert ta.shape == tb.shape == (10,)


def test_judge_refuses_a_constant():
    with pytest.raises(TypeError, match="never written"):
        C.judge("sasrec-beats-popularity", True)


def test_selection_uses_validation_and_grid_edges_are_flagged():
    assert V.select_on_validation({"a": 0.1, "b": 0.3, "c": 0.2}) == "b"
    assert V.select_on_validation({"a": 1.0, "b": 0.5}, higher_is_better=False) == "b"
    with pytest.raises(ValueError, match="not finite"):
        V.select_on_validation({"a": float("nan")})
    assert V.inside_grid([10, 50, 200], 50) and not V.inside_grid([10, 50, 200], 200)


def test_verdicts_are_recorded_once_per_id(tmp_path):
    path = tmp_path / "results.json"
    ev = V.paired_diff(np.ones(10) * 0.2, np.zeros(10))
    C.judge("sasrec-beats-popularity", ev, results_path=path)
    C.judge("sasrec-beats-popularity", ev, results_path=path)  # a re-run replaces it
    data = json.loads(path.read_text())
    assert len(data["claims"]) == 1
    rec = data["claims"][0]
    for key in (
        "id",
        "article",
        "notebook",
        "section",
        "statement",
        "kind",
        "verdict",
        "effect",
        "ci_low",
        "ci_high",
        "margin",
        "test",
        "units",
        "seeds",
    ):
        assert key in rec
    assert rec["verdict"] == "supported"
    text = C.claim_lines(path, "03")
    assert "[supported] SASRec beats popularity" in text and "Not judged in this run" in text


def test_docs_claims_table_lists_every_registered_id():
    text = (ROOT / "docs" / "claims.md").read_text()
    ids = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.M))
    assert ids == set(C.CLAIMS), (set(C.CLAIMS) - ids, ids - set(C.CLAIMS))
    assert C.registry_markdown() in text, "docs/claims.md is stale: regenerate its table"


def test_equality_and_threshold_properties():
    ok = C.judge("attention-matches-torch", V.equals(3e-7, 0.0, "max |hand − torch|", tol=1e-6))
    assert ok.verdict == "supported" and "expected 0" in ok.line()
    bad = C.judge("attention-matches-torch", V.equals(3e-3, 0.0, "max |hand − torch|", tol=1e-6))
    assert bad.verdict == "not supported"
    assert C.judge("popularity-skew", V.exceeds(0.42, 1 / 3, "share")).verdict == "supported"
    assert C.judge("popularity-skew", V.exceeds(0.30, 1 / 3, "share")).verdict == "not supported"
    wide = V.exceeds(0.40, 1 / 3, "share", ci=(0.30, 0.45))
    assert C.judge("popularity-skew", wide).verdict == "undecided"
    with pytest.raises(ValueError, match="property"):
        C.judge("sasrec-beats-popularity", V.equals(1, 1, "x"))


def test_bootstrap_stat_of_a_ratio_difference():
    rng = np.random.default_rng(0)
    a, b = rng.random(400) + 1, rng.random(400)
    ev = V.bootstrap_stat(lambda x, y: x.mean() / y.mean(), a, b, n_boot=300)
    assert ev.ci_low < ev.effect < ev.ci_high and ev.ci_low > 2
    with pytest.raises(ValueError, match="same units"):
        V.bootstrap_stat(np.mean, a, b[:10])


def test_front_page_opens_with_claims_and_anchors(tmp_path):
    from llm4rec_utils.tooling.frontpage import claims_html, claims_markdown
    from llm4rec_utils.tooling.report import write_index
    from llm4rec_utils.tooling.results import results_table

    path = tmp_path / "results.json"
    C.judge(
        "sasrec-beats-popularity", V.paired_diff(np.ones(10) * 0.2, np.zeros(10)), results_path=path
    )
    C.judge("popularity-skew", V.exceeds(0.42, 1 / 3, "share"), results_path=path)
    data = json.loads(path.read_text())
    data["metrics"] = [
        {
            "notebook": "06_user_item_graphs",
            "model": "mf",
            "protocol": "5-fold",
            "metric": "rmse",
            "value": 0.91,
        }
    ]
    md = results_table(data)
    assert md.index("## Claims") < md.index("## Published numbers") < md.index("## Notebooks")
    assert (
        "| collection | SASRec beats popularity (full ranking NDCG@10) | 03 §8 | supported |" in md
    )
    assert "0.42 against the threshold 0.3333" in "\n".join(claims_markdown(data))
    assert (
        "| Surprise benchmarks (surpriselib.com), MovieLens-100K | SVD |" in md and "0.9100" in md
    )
    assert "class='sup'>supported" in claims_html(data)
    page = write_index(tmp_path, data).read_text()
    assert page.index("Claims: what this run found") < page.index("<h2>Notebooks</h2>")


def test_no_notebook_writes_a_verdict_as_a_constant():
    """A verdict is computed by the engine: no notebook calls the old helpers or turns an
    undecided verdict into an answer."""
    import nbformat

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join(
            c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code"
        )
        for bad in ("is not False", "is not True", "verdict(", "gain_verdict(", "compare("):
            assert bad not in code, f"{nb.name} uses {bad!r}: decide claims with claims.judge"
        assert not re.search(r"judge\w*\(\s*\"[a-z0-9-]+\"\s*,\s*(True|False)\b", code), nb.name


def test_a_lower_is_better_threshold_prints_its_interval_in_order():
    v = C.judge("mf-beats-surprise-svd", V.exceeds(0.92, 0.934, "rmse", ci=(0.91, 0.93)))
    assert v.verdict == "supported" and "0.92 [0.91, 0.93] against the threshold 0.934" in v.line()


def test_a_stand_in_is_recorded_but_never_decides():
    clear_win = V.Evidence(0.5, 0.4, 0.6, test="toy", units=100)
    assert C.judge("llm-beats-ease", clear_win).verdict == "supported"
    v = C.judge("llm-beats-ease", clear_win, stand_in="a random-weight model stands in for the LLM")
    assert v.verdict == "undecided" and v.ci_low == 0.4
    assert "not a test of the claim: a random-weight model" in v.line()


def test_every_claim_names_a_section_its_notebook_has():
    """docs/claims.md's "tested in" column points at a heading that exists (05's sweep was
    listed as §2b, which 05 does not have)."""
    root = Path(__file__).resolve().parents[1]
    twins = (root / "notebooks_py").glob("*.py")
    sources = {p.name[:2]: p.read_text(encoding="utf-8") for p in twins}
    for c in C.CLAIMS.values():
        for sec in re.findall(r"§\s*([0-9]+[a-z]?)", c.section):
            assert re.search(rf"^# #+ {re.escape(sec)}\.", sources[c.notebook], re.M), (
                f"{c.id}: notebook {c.notebook} has no section {sec}"
            )


def test_one_seed_non_inferiority_is_held_to_the_seed_spread_at_the_margin():
    # gptrec-noninferior-sasrec: margin 0.01, a recipe claim
    inside = V.Evidence(0.0107, -0.0012, 0.0225, test="toy", units=943)
    assert C.judge("gptrec-noninferior-sasrec", inside, seed_floor=0.0065).verdict == "supported"
    # the same interval, a seed spread that would carry its lower end past -0.01
    v = C.judge("gptrec-noninferior-sasrec", inside, seed_floor=0.012)
    assert v.verdict == "undecided" and "reaches the margin" in v.line()
    # a near-zero effect with a tight interval is decided by the margin, not by |effect|
    tight = V.Evidence(0.0005, -0.002, 0.003, test="toy", units=943)
    assert C.judge("gptrec-noninferior-sasrec", tight, seed_floor=0.0065).verdict == "supported"
