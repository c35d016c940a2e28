import numpy as np
import pandas as pd
import pytest

from llm4rec_utils.prompts import (
    FEATURE_COLS,
    build_tallrec_samples,
    movie_titles,
    split_tallrec,
    tallrec_prompt,
    tallrec_prompts,
    tallrec_split,
)


@pytest.fixture
def seq_ratings():
    """User 1 rates items 0..5 at t=1..6, user 2 rates items 0..2 at t=10..12 (cut = t 5)."""
    rows = [(1, i, r, i + 1) for i, r in enumerate([5, 1, 4, 2, 5, 4])]
    rows += [(2, 0, 1, 10), (2, 1, 5, 11), (2, 2, 4, 12)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_samples_history_labels_and_split(seq_ratings):
    s, cut = build_tallrec_samples(seq_ratings, history_len=2, cut_quantile=0.5, prior_weight=0)
    assert cut == 5  # median of the 9 timestamps: train is t < 5
    # user 1 has 4 samples (items 2..5), user 2 one (item 2): every event with 2 earlier ones
    assert len(s) == 5
    first = s.iloc[0]
    assert first.hist_items == (0, 1) and first.hist_ratings == (5.0, 1.0)
    assert first.item_id == 2 and first.label == 1  # rating 4 > 3
    assert list(s.label) == [1, 0, 1, 1, 1]
    assert list(s.split) == ["train", "train", "test", "test", "test"]
    assert first.user_hist_mean == 3.0 and first.hist_like_share == 0.5


def test_item_mean_uses_only_past_training_events(seq_ratings):
    s, _ = build_tallrec_samples(seq_ratings, history_len=2, cut_quantile=0.5, prior_weight=0)
    assert s.iloc[0].item_past_log_count == 0.0  # item 2 at t=3: never rated before
    u2 = s[s.user_id == 2].iloc[0]
    # user 2 rates item 2 at t=12 (test): item 2's training ratings are user 1's 4 at t=3
    assert u2.item_past_mean == 4.0
    assert u2.item_past_log_count == pytest.approx(np.log1p(1))


def test_item_mean_shrinks_to_training_mean(seq_ratings):
    s, _ = build_tallrec_samples(seq_ratings, history_len=2, cut_quantile=0.5, prior_weight=5)
    first = s.iloc[0]  # item 2 never rated before: the prior alone, the training mean
    train_mean = np.mean([5, 1, 4, 2])  # events with t < 5
    assert first.item_past_mean == pytest.approx(train_mean)
    assert not s[list(FEATURE_COLS)].isna().any().any()


def test_samples_bad_input(seq_ratings):
    with pytest.raises(ValueError, match="history_len"):
        build_tallrec_samples(seq_ratings, history_len=0)
    with pytest.raises(ValueError, match="cut_quantile"):
        build_tallrec_samples(seq_ratings, cut_quantile=1.0)
    with pytest.raises(KeyError, match="rating"):
        build_tallrec_samples(seq_ratings.drop(columns="rating"))


def test_prompt_text():
    titles = {1: "Heat (1995)", 2: "Fargo (1996)", 3: "Babe (1995)"}
    text = tallrec_prompt((1, 2), (5.0, 2.0), 3, titles)
    assert text == (
        "User liked: Heat (1995). User disliked: Fargo (1996). Will the user like Babe (1995)?"
    )
    text = tallrec_prompt(
        (1,),
        (4.0,),
        3,
        titles,
        signals={"item_past_mean": 3.86, "item_past_log_count": np.log1p(12), "user_hist_mean": 4},
    )
    assert "disliked: none" in text
    short = {1: "Heat", 2: "Fargo"}
    text2 = tallrec_prompt((1, 2), (5.0, 2.0), 3, titles, hist_titles=short)
    assert text2 == "User liked: Heat. User disliked: Fargo. Will the user like Babe (1995)?"
    text3 = tallrec_prompt((1,), (5.0,), 3, titles, question="Next: {title}?")
    assert text3.endswith("User disliked: none. Next: Babe (1995)?")
    assert text.endswith("? Movie average 3.9 from 12 ratings; user average 4.0.")


def test_prompts_for_frame(seq_ratings):
    items = pd.DataFrame(
        {"item_id": range(6), "title": list("ABCDEF"), "year": [1990, None, 1991, 1992, 1, 2]}
    )
    titles = movie_titles(items)
    assert titles[1] == "B" and titles[0] == "A (1990)"
    assert movie_titles(items, with_year=False)[0] == "A"
    s, _ = build_tallrec_samples(seq_ratings, history_len=2, cut_quantile=0.5)
    texts = tallrec_prompts(s, titles)
    assert len(texts) == len(s) and texts[0].endswith("Will the user like C (1991)?")
    assert "Movie average" in tallrec_prompts(s, titles, with_signals=True)[0]


def test_split_tallrec_is_deterministic_and_disjoint():
    rows = [(u, i, 1 + (u * i) % 5, 100 * u + i) for u in range(1, 6) for i in range(30)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    s, _ = build_tallrec_samples(ratings, history_len=3, cut_quantile=0.6)
    a = split_tallrec(s, 20, 5, 10, seed=1)
    b = split_tallrec(s, 20, 5, 10, seed=1)
    assert a["test"].index.equals(b["test"].index)
    assert len(a["train"]) == 20 and len(a["val"]) == 5 and len(a["test"]) == 10
    assert set(a["train"].index).isdisjoint(a["val"].index)
    assert (a["test"]["split"] == "test").all()
    assert a["val"]["timestamp"].min() >= a["train"]["timestamp"].max()
    with pytest.raises(ValueError, match="positive"):
        split_tallrec(s, 0, 5, 10)


def test_shrunk_mean_by_hand():
    from llm4rec_utils.prompts import shrunk_mean

    # 2 ratings summing to 10 (mean 5) with 5 pseudo-ratings of 3: (10 + 15) / 7
    assert shrunk_mean(10.0, 2, 3.0).item() == pytest.approx(25 / 7)
    assert shrunk_mean([0.0], [0], 3.5).tolist() == [3.5]  # no ratings: the global mean
    assert shrunk_mean(0.0, 0, 3.0, prior_weight=0.0).item() == 3.0  # no division by zero


def test_prompt_maker_names_the_target_with_its_year_and_history_without():
    from llm4rec_utils.prompts import FEATURE_COLS, prompt_maker

    items = pd.DataFrame({"item_id": [1, 2], "title": ["Toy Story", "Heat"], "year": [1995, 1995]})
    stats = {c: [0.5] for c in FEATURE_COLS}
    frame = pd.DataFrame({"hist_items": [[2]], "hist_ratings": [[5]], "item_id": [1], **stats})
    plain = prompt_maker(items)(frame, signals=False)[0]
    assert "Toy Story (1995)" in plain and "Heat (1995)" not in plain and "Heat" in plain
    assert len(prompt_maker(items)(frame)[0]) > len(plain)  # the statistics sentence


def test_profile_ends_the_prompt_and_needs_every_user():
    from llm4rec_utils.prompts import prompt_maker

    items = pd.DataFrame({"item_id": [1, 2], "title": ["Toy Story", "Heat"], "year": [1995, 1995]})
    users = pd.DataFrame(
        {
            "user_id": [7, 8],
            "age": [24, 53],
            "gender": ["M", "F"],
            "occupation": ["technician", "writer"],
        }
    )
    stats = {c: [0.5, 0.5] for c in FEATURE_COLS}
    frame = pd.DataFrame(
        {
            "user_id": [8, 7],
            "hist_items": [[2], [2]],
            "hist_ratings": [[5], [1]],
            "item_id": [1, 1],
            **stats,
        }
    )
    make = prompt_maker(items, users=users)
    with_profile = make(frame, profile=True)
    assert with_profile[0].endswith(" The user is a 53-year-old female writer.")
    assert with_profile[1].endswith(" The user is a 24-year-old male technician.")
    assert with_profile[0].startswith(make(frame)[0])  # the same prompt, one sentence longer
    with pytest.raises(ValueError, match="users table"):
        prompt_maker(items)(frame, profile=True)
    with pytest.raises(ValueError, match="1 users have no profile"):
        prompt_maker(items, users=users.head(1))(frame, profile=True)
    with pytest.raises(ValueError, match="occupation"):
        prompt_maker(items, users=users.drop(columns="occupation"))


def test_same_second_ties_follow_the_seeded_tie_break_not_the_item_id():
    """The README's promise: same-second ties are broken in a seeded random order
    (splits.tie_key), never by item ID (which in MovieLens follows release order)."""
    from llm4rec_utils.splits import tie_key

    tied = list(range(10, 22))  # 12 items rated in the same second, then one more event
    rows = [(1, i, 4, 100) for i in tied] + [(1, 99, 5, 200)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    orders = set()
    for seed in (0, 1, 2):
        s, _ = build_tallrec_samples(ratings, history_len=12, cut_quantile=0.5, seed=seed)
        (last,) = s.itertuples()  # the event at t=200, whose history is the 12 tied events
        expected = [tied[k] for k in np.argsort(tie_key([1] * 12, tied, seed), kind="stable")]
        assert list(last.hist_items) == expected
        orders.add(last.hist_items)
        again, _ = build_tallrec_samples(ratings, history_len=12, cut_quantile=0.5, seed=seed)
        assert again.hist_items.tolist() == s.hist_items.tolist()  # reproducible
    assert tuple(tied) not in orders and len(orders) == 3


def _tallrec_rule(ratings, history_len, keep):
    """preprocess_movie.py's rule, written out literally: users in order of first appearance,
    each user's events stably sorted by timestamp, one sample per event after the first
    ``history_len``, the last ``keep`` samples of the whole list."""
    by_user = {}
    for r in ratings.itertuples(index=False):
        by_user.setdefault(r.user_id, []).append((r.item_id, r.timestamp))
    out = []
    for user, events in by_user.items():
        events = sorted(events, key=lambda e: e[1])
        for i in range(history_len, len(events)):
            out.append((user, tuple(e[0] for e in events[i - history_len : i]), events[i][0]))
    return out[-keep:]


def test_tallrec_split_follows_its_preprocessing_rule():
    rng = np.random.default_rng(0)
    n = 600
    ratings = pd.DataFrame(
        {
            "user_id": rng.integers(1, 30, n),
            "item_id": rng.integers(1, 80, n),
            "rating": rng.integers(1, 6, n).astype(float),
            "timestamp": rng.integers(0, 40, n) * 1000,  # many same-second ties: file order decides
        }
    ).drop_duplicates(["user_id", "item_id"])
    parts = tallrec_split(ratings, history_len=3, keep=200, cut_quantile=0.5)
    got = pd.concat(parts.values())
    expected = _tallrec_rule(ratings, 3, 200)
    rows = zip(got.user_id, got.hist_items, got.item_id, strict=True)
    assert [(int(u), tuple(map(int, h)), int(i)) for u, h, i in rows] == [
        (int(u), tuple(map(int, h)), int(i)) for u, h, i in expected
    ]
    assert [len(parts[k]) for k in ("train", "valid", "test")] == [160, 20, 20]
    assert got["tallrec_pos"].tolist() == list(range(200))
    with pytest.raises(ValueError, match="keep"):
        tallrec_split(ratings, keep=0)
    with pytest.raises(ValueError, match="ties"):
        build_tallrec_samples(ratings, history_len=3, ties="alphabetical")
