import pandas as pd
import pytest

from llm4rec_utils import preprocess as P


def test_to_implicit_threshold(tiny_ratings):
    liked = P.to_implicit(tiny_ratings, threshold=4)
    assert len(liked) == (tiny_ratings.rating >= 4).sum() == 9
    assert "rating" not in liked
    assert len(P.to_implicit(tiny_ratings, threshold=None)) == len(tiny_ratings)


def test_k_core_reaches_a_fixed_point():
    # item 9 has one interaction; removing it drops user 3 below 2, which drops item 8 below 2
    df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [7, 8, 7, 8, 8, 9]})
    core = P.k_core_filter(df, user_k=2, item_k=2)
    assert sorted(zip(core.user_id, core.item_id, strict=True)) == [(1, 7), (1, 8), (2, 7), (2, 8)]
    core3 = P.k_core_filter(df, user_k=2, item_k=3)
    assert core3.empty
    with pytest.raises(ValueError, match="k must be"):
        P.k_core_filter(df, 0, 2)


def test_id_map_round_trip_and_unknown_id(tiny_ratings):
    enc, umap, imap = P.encode_ids(tiny_ratings)
    assert sorted(enc.item_id.unique()) == list(range(5))
    assert (imap.decode(enc.item_id) == tiny_ratings.item_id).all()
    with pytest.raises(KeyError, match="unknown id 99"):
        umap.encode([99])


def test_item_and_profile_text():
    items = pd.DataFrame(
        {
            "item_id": [1, 2],
            "title": ["Toy Story", "Heat"],
            "year": pd.array([1995, pd.NA], dtype="Int16"),
            "genres": [("Animation", "Comedy"), ("unknown",)],
        }
    )
    text = P.item_text(items)
    assert text.tolist() == ["Toy Story (1995). Genres: Animation, Comedy.", "Heat."]
    users = pd.DataFrame({"user_id": [5], "age": [30], "gender": ["F"], "occupation": ["writer"]})
    ratings = pd.DataFrame(
        {"user_id": [5, 5, 5], "item_id": [1, 2, 1], "rating": [5, 4, 2], "timestamp": [1, 2, 3]}
    )[:2]
    prof = P.user_profile_text(users, ratings, items, n_recent=1)
    assert prof[5] == "A 30-year-old female writer who recently liked: Heat."
