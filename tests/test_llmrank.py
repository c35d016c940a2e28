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
    assert p.unknown == ["- Titanic"]  # an invented title
    assert p.ignored == ["Sure! Here is my ranking:"]  # the preamble names no movie
    assert parse_ranking("", CANDS).order == []
    typo = parse_ranking("Usual Suspect, The\nToy Stroy\nHeat\nFargo", CANDS)
    assert typo.order == [0, 1, 2, 3] and typo.valid  # close matches are accepted


def test_parse_a_chatty_answer_with_reasons():
    # how a chat model answers LLMRank's prompt: a preamble, numbered titles with their year and
    # a reason, markdown bold, an en dash, a sign-off
    answer = (
        "Based on your watching history, here is my ranking of the candidates:\n"
        "\n"
        "1. Fargo (1996) - a dark crime comedy, close to the thrillers you watched.\n"
        "2. **The Usual Suspects** (1995): a twisty crime story like Seven.\n"
        "3. Heat (1995) \u2013 another crime epic, like Fargo but longer.\n"
        "4. Toy Story (1995) - lighter, but you rated animated films well.\n"
        "\n"
        "I hope you enjoy them!"
    )
    p = parse_ranking(answer, CANDS)
    assert p.order == [3, 0, 2, 1] and p.valid
    assert p.ignored == [answer.splitlines()[0], "I hope you enjoy them!"]


def test_parse_reads_the_title_a_line_starts_with_not_the_one_its_reason_mentions():
    p = parse_ranking("1. Heat, because like Fargo it is a crime film\n2. Fargo", CANDS)
    assert p.order == [2, 3] and p.duplicates == 0
    # reasons on lines of their own, under numbered entries, are not entries
    p = parse_ranking(
        "1. Heat\n   Reason: like Fargo, a crime film.\n2. Fargo\n3. Toy Story", CANDS
    )
    assert p.order == [2, 3, 1] and p.duplicates == 0 and not p.unknown
    assert p.ignored == ["Reason: like Fargo, a crime film."]


def test_parse_matches_titles_with_the_article_moved():
    cands = ["Matrix, The (1999)", "Graduate, The (1967)", "Fish Called Wanda, A (1988)"]
    p = parse_ranking("1. The Graduate\n2. A Fish Called Wanda (1988)\n3. The Matrix", cands)
    assert p.order == [1, 2, 0] and p.valid
    # the catalogue's own form, with reasons after it, and a model that writes the article first
    p = parse_ranking(
        "1. Matrix, The (1999) - sci-fi\n2. Graduate, The\n3. Fish Called Wanda", cands
    )
    assert p.order == [0, 1, 2] and p.valid
    written_first = ["The Matrix (1999)", "The Graduate (1967)"]
    assert parse_ranking("Graduate, The\nMatrix, The", written_first).order == [1, 0]


def test_parse_typo_before_reasons_shortened_titles_and_numbers_in_titles():
    cands = [
        "Toy Story (1995)",
        "Wallace & Gromit: The Best of Aardman Animation (1996)",
        "2001: A Space Odyssey (1968)",
        "M (1931)",
    ]
    answer = "1. Toy Stroy - fun for everyone\n2. Wallace & Gromit\n3. 2001: A Space Odyssey\n4. M"
    p = parse_ranking(answer, cands)
    assert p.order == [0, 1, 2, 3] and p.valid
    # a title that starts with a year is not numbering: the other unnumbered lines stay entries
    p = parse_ranking("Toy Story\n2001: A Space Odyssey (1968)\nM", cands)
    assert p.order == [0, 2, 3] and not p.ignored and not p.unknown
    # a one-letter title is only matched whole, never inside another line
    assert parse_ranking("1. Mission: Impossible (1996)", cands).order == []


def test_parse_titles_only_answer_with_a_sign_off_and_an_invented_title():
    answer = "Heat\nThe Usual Suspects\nTitanic (1997)\nFargo\nThese are ranked by your taste."
    p = parse_ranking(answer, CANDS)
    assert p.order == [2, 0, 3] and p.unknown == ["Titanic (1997)"]
    assert p.ignored == ["These are ranked by your taste."] and not p.valid


def test_rank_of_truth_counts_an_omitted_truth_as_a_miss_by_default():
    rng = np.random.default_rng(0)
    assert rank_of_truth([2, 0], 4, truth=0) == 2
    # LLMRank: a candidate the parser does not find keeps the score of a non-candidate
    assert rank_of_truth([2], 4, truth=0) == 5
    # the named variant: the left-out candidates share the remaining places at random
    ranks = {rank_of_truth([2], 4, truth=0, rng=rng, omitted="random") for _ in range(200)}
    assert ranks == {2, 3, 4}
    with pytest.raises(ValueError, match="omitted must be one of"):
        rank_of_truth([2], 4, truth=0, omitted="fill")
    with pytest.raises(ValueError, match="needs an rng"):
        rank_of_truth([2], 4, truth=0, omitted="random")


def test_run_rerank_scores_left_out_truths_as_misses_unless_asked_to_fill():
    cands = np.arange(40).reshape(2, 20)
    truth_left_out = lambda r, shown: [i for i, item in enumerate(shown) if item != cands[r, 0]][:5]  # noqa: E731
    miss = run_rerank(truth_left_out, cands, seed=0)
    assert (miss.ranks == 21).all() and miss.metrics()["hr@10"] == 0.0
    assert miss.metrics()["ndcg@10"] == 0.0
    fill = run_rerank(truth_left_out, cands, seed=0, omitted="random")
    assert ((fill.ranks >= 6) & (fill.ranks <= 20)).all()
    with pytest.raises(ValueError, match="omitted must be one of"):
        run_rerank(truth_left_out, cands, omitted="fill")


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


def test_parse_tells_remakes_apart_and_reads_titles_that_look_like_sentences():
    cands = [
        "That Darn Cat! (1965)",
        "That Darn Cat! (1997)",
        "Faster Pussycat! Kill! Kill! (1965)",
    ]
    p = parse_ranking(
        "1. That Darn Cat! (1997)\n2. That Darn Cat!\n3. Faster Pussycat! Kill! Kill!", cands
    )
    assert p.order == [1, 0, 2] and p.valid
    # unnumbered: a title ending in "!" is still a title, a sentence around no title is talk
    p = parse_ranking(
        "Faster Pussycat! Kill! Kill!\nThat Darn Cat!\nHope this helps you choose!", cands
    )
    assert p.order == [2, 0] and p.ignored == ["Hope this helps you choose!"]


def test_per_user_ndcg_averages_to_the_reported_metric():
    in_shown_order = lambda r, shown: list(range(len(shown)))  # noqa: E731
    run = run_rerank(in_shown_order, np.arange(200).reshape(10, 20), seed=3)
    per_user = run.ndcg()
    assert per_user.shape == (10,)
    assert per_user.mean() == pytest.approx(run.metrics()["ndcg@10"])
    assert np.allclose(per_user, np.where(run.ranks <= 10, 1 / np.log2(run.ranks + 1), 0.0))


def test_shown_orders_depend_on_the_seed_alone():
    cands = np.arange(200).reshape(10, 20)
    seen = {}

    def recorder(tag, keep=20):
        def rank(r, shown):
            seen.setdefault(tag, []).append(tuple(shown))
            return [i for i, item in enumerate(shown) if item != cands[r, 0]][:keep]

        return rank

    run_rerank(recorder("miss", 5), cands, seed=7)
    run_rerank(recorder("random", 5), cands, seed=7, omitted="random")
    run_rerank(recorder("prefix"), cands[:4], seed=7)
    assert seen["miss"] == seen["random"]  # filling left-out truths draws apart from the orders
    assert seen["prefix"] == seen["miss"][:4]  # the first rows are shown as in the full run


def test_choose_on_validation_picks_the_best_validation_setting_and_shows_all_the_same_orders():
    from llm4rec_utils.llmrank import choose_on_validation

    cands = np.arange(120).reshape(6, 20)
    shown_by = {}

    def setting(name, truth_place):
        def rank(r, shown):
            shown_by.setdefault(name, []).append(tuple(shown))
            others = [i for i, item in enumerate(shown) if item != cands[r, 0]]
            truth = int(np.flatnonzero(shown == cands[r, 0])[0])
            return others[:truth_place] + [truth] + others[truth_place:]

        return rank

    choice = choose_on_validation(
        {"third": setting("third", 2), "first": setting("first", 0), "last": setting("last", 19)},
        cands,
        seed=1,
    )
    assert choice.chosen == "first"
    assert shown_by["third"] == shown_by["first"] == shown_by["last"]
    table = choice.table
    assert table.loc["first", "valid ndcg@10"] == 1.0 and table.loc["last", "valid ndcg@10"] == 0.0
    assert table["chosen"].tolist() == [False, True, False] and (table["users"] == 6).all()
    assert np.allclose(choice.per_user(), 1.0) and np.allclose(choice.per_user("third"), 0.5)
    # a tie goes to the first listed, as in verdicts.select_on_validation
    tie = choose_on_validation({"a": setting("a", 0), "b": setting("b", 0)}, cands)
    assert tie.chosen == "a"
    with pytest.raises(ValueError, match="no setting"):
        choose_on_validation({}, cands)
