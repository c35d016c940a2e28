import numpy as np
import pandas as pd
import pytest

from llm4rec_utils.llmrank import (
    ParsedRanking,
    build_candidates,
    normalize_title,
    parse_ranking,
    popularity_percentile,
    position_spread,
    random_floor,
    rank_of_truth,
    rank_prompt,
    run_rerank,
    score_ranker,
)

CANDS = ["Usual Suspects, The (1995)", "Toy Story (1995)", "Heat (1995)", "Fargo (1996)"]


def test_random_floor_matches_the_published_numbers():
    floor = random_floor(20, 10)
    assert floor["hr@1"] == 0.05
    # 1 + 0.6309 + 0.5 + 0.4307 + 0.3869 + 0.3562 + 0.3333 + 0.3155 + 0.3010 + 0.2891 = 4.5436
    assert floor["ndcg@10"] == pytest.approx(4.5436 / 20, abs=1e-4)  # ~0.227


def test_candidates_hold_the_truth_first_and_only_unseen_negatives():
    known = pd.DataFrame({"user_id": [0, 0, 0, 1], "item_id": [1, 2, 3, 4]})
    test = pd.DataFrame({"user_id": [0, 1], "item_id": [3, 4]})
    cands = build_candidates(test, [known], num_items=10, n_negatives=5, seed=1)
    assert cands.shape == (2, 6) and list(cands[:, 0]) == [3, 4]
    assert not set(cands[0, 1:]) & {1, 2, 3} and not set(cands[1, 1:]) & {4}
    assert all(len(set(r)) == 6 for r in cands)
    assert (cands == build_candidates(test, [known], 10, 5, seed=1)).all()
    with pytest.raises(ValueError, match="unseen"):
        build_candidates(test, [known], num_items=5, n_negatives=5)


def test_normalize_title_handles_articles_years_and_punctuation():
    assert normalize_title("Usual Suspects, The (1995)") == "the usual suspects"
    assert normalize_title("  THE USUAL SUSPECTS!") == "the usual suspects"
    assert normalize_title("Heat") == "heat"


def test_parse_a_clean_numbered_answer():
    answer = "1. Fargo\n2. The Usual Suspects\n3) Heat (1995)\n4. Toy Story"
    p = parse_ranking(answer, CANDS)
    assert p.order == [3, 0, 2, 1] and p.valid


def test_parse_marks_incomplete_duplicate_and_unknown_answers():
    p = parse_ranking("Sure! Here is my ranking:\n- Fargo\n- Fargo\n- Heat\n- Titanic", CANDS)
    assert p.order == [3, 2]
    assert p.duplicates == 1 and not p.complete and not p.valid
    assert "- Titanic" in p.unknown and len(p.unknown) == 2  # the chatter line too
    assert parse_ranking("", CANDS).order == []
    typo = parse_ranking("Usual Suspect, The\nToy Stroy\nHeat\nFargo", CANDS)
    assert typo.order == [0, 1, 2, 3] and typo.valid  # close matches are accepted


def test_rank_of_truth_puts_omitted_candidates_after_the_named_ones():
    rng = np.random.default_rng(0)
    assert rank_of_truth([2, 0], 4, truth=0, rng=rng) == 2
    ranks = {rank_of_truth([2], 4, truth=0, rng=rng) for _ in range(200)}
    assert ranks == {2, 3, 4}


def test_prompt_orders_history_and_includes_examples_and_profile():
    p = rank_prompt(["A", "B", "C"], ["X", "Y"], max_history=2, profile="I am 30.")
    assert p.index("- C") < p.index("- B") and "- A" not in p and p.startswith("I am 30.")
    assert "2 candidate" in p and p.endswith("Answer:")
    old_first = rank_prompt(["A", "B"], ["X"], recent_first=False)
    assert old_first.index("- A") < old_first.index("- B")
    shot = rank_prompt(["A"], ["X", "Y"], examples=[(["B"], ["Y", "X"], ["X", "Y"])])
    assert shot.count("Answer:") == 2 and "1. X\n2. Y" in shot


def test_run_rerank_finds_the_truth_wherever_it_is_shown():
    cands = np.array([[5, 1, 2, 3], [6, 1, 2, 3]])
    oracle = score_ranker(lambda r, shown: (shown == cands[r, 0]).astype(float))
    runs = [run_rerank(oracle, cands, seed=s) for s in range(3)]
    assert all((run.ranks == 1).all() and run.valid.all() for run in runs)
    assert list(runs[0].top1) == [5, 6]
    assert position_spread(runs) == 0.0
    # a ranker that always answers in the shown order is a pure position bias
    first = [run_rerank(lambda r, shown: list(range(4)), cands, seed=s) for s in range(20)]
    assert position_spread(first, "hr@1") > 0
    assert (run_rerank(lambda r, shown: [0, 1, 2, 3], cands, shuffle=False).ranks == 1).all()


def test_run_rerank_counts_invalid_answers():
    cands = np.array([[5, 1, 2, 3]])
    run = run_rerank(lambda r, shown: ParsedRanking(order=[1], n_candidates=4), cands)
    assert not run.valid[0] and run.metrics()["valid_share"] == 0.0


def test_popularity_percentile():
    counts = np.array([1, 5, 3, 10])
    assert list(popularity_percentile(np.array([3, 0]), counts)) == [1.0, 0.25]


def test_run_rerank_places_the_truth_where_asked():
    import numpy as np

    from llm4rec_utils.llmrank import run_rerank

    cands = np.arange(60).reshape(3, 20)
    first_shown = lambda r, shown: list(range(len(shown)))  # noqa: E731  (a ranker that keeps the shown order)
    assert (run_rerank(first_shown, cands, truth_at=0).ranks == 1).all()
    assert (run_rerank(first_shown, cands, truth_at=19).ranks == 20).all()
    assert (run_rerank(first_shown, cands, truth_at=7).ranks == 8).all()
