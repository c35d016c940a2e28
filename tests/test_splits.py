import numpy as np
import pandas as pd
import pytest

from llm4rec_utils import splits


def pairs(df):
    return set(zip(df.user_id, df.item_id, strict=True))


def test_leave_one_out_breaks_ties_by_seeded_random_order(tiny_ratings):
    def last_two(seed):
        sp = splits.leave_one_out_split(tiny_ratings, seed=seed)
        assert len(sp.train) == len(tiny_ratings) - 8
        test = dict(zip(sp.test.user_id, sp.test.item_id, strict=True))
        valid = dict(zip(sp.valid.user_id, sp.valid.item_id, strict=True))
        return test, valid

    outcomes = set()
    for seed in range(20):
        test, valid = last_two(seed)
        assert last_two(seed) == (test, valid)  # deterministic for a given seed
        # users without ties are fixed by time alone
        assert {u: test[u] for u in (2, 3, 4)} == {2: 14, 3: 10, 4: 14}
        assert {u: valid[u] for u in (2, 3, 4)} == {2: 13, 3: 11, 4: 13}
        # user 1: items 12 and 13 share t=300; the seed decides which is last
        assert {test[1], valid[1]} == {12, 13}
        outcomes.add(test[1])
    assert outcomes == {12, 13}, "the tie-break must not always favour one item"


def test_tie_key_is_a_function_of_the_pair_and_seed():
    a = splits.tie_key([1, 1, 2], [12, 13, 12], seed=5)
    assert splits.tie_key([2], [12], seed=5)[0] == a[2]  # a subset sorts its ties the same way
    assert not (splits.tie_key([1, 1, 2], [12, 13, 12], seed=6) == a).all()
    with pytest.raises(ValueError, match="non-negative integer"):
        splits.tie_key([1], [2], seed=-1)


def test_user_sequences_agree_with_the_split_order(tiny_ratings):
    from llm4rec_utils.sequential import user_sequences

    for seed in range(10):
        sp = splits.leave_one_out_split(tiny_ratings, seed=seed)
        seqs = user_sequences(tiny_ratings, 5, seed=seed)
        for u in (1, 2, 3, 4):
            assert seqs[u][-1] == sp.test.set_index("user_id").item_id[u]
            assert seqs[u][-2] == sp.valid.set_index("user_id").item_id[u]


def test_every_split_partitions_the_data(tiny_ratings):
    for sp in [
        splits.random_split(tiny_ratings, 0.25, seed=0),
        splits.stratified_split(tiny_ratings, 0.75, seed=0),
        splits.per_user_ratio_split(tiny_ratings, (0.6, 0.2, 0.2), seed=0),
        splits.leave_one_out_split(tiny_ratings),
        splits.time_split(tiny_ratings, 0.25, 0.25),
    ]:
        parts = [sp.train, sp.test] + ([sp.valid] if sp.valid is not None else [])
        assert sum(len(p) for p in parts) == len(tiny_ratings), sp.name
        assert set().union(*map(pairs, parts)) == pairs(tiny_ratings), sp.name


def test_same_seed_same_split_and_other_seed_differs(tiny_ratings):
    a = splits.stratified_split(tiny_ratings, 0.5, seed=7)
    b = splits.stratified_split(tiny_ratings, 0.5, seed=7)
    assert a.test.equals(b.test)
    others = {
        tuple(sorted(pairs(splits.stratified_split(tiny_ratings, 0.5, seed=s).test)))
        for s in range(10)
    }
    assert len(others) > 1


def test_stratified_keeps_every_user_in_train(tiny_ratings):
    sp = splits.stratified_split(tiny_ratings, 0.75, seed=0)
    assert set(sp.train.user_id) == set(tiny_ratings.user_id)
    per_user = sp.train.groupby("user_id").size()
    assert per_user[1] == 4 and per_user[4] == 2  # round(0.75 * 5) = 4, round(0.75 * 3) = 2


def test_time_split_is_a_global_cut(tiny_ratings):
    sp = splits.time_split(tiny_ratings, test_ratio=0.25)
    assert sp.train.timestamp.max() <= sp.test.timestamp.min()
    assert len(sp.test) == 4


def test_leakage_checks_fire():
    train = pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2], "timestamp": [10, 50]})
    test = pd.DataFrame({"user_id": [1], "item_id": [2], "timestamp": [20]})
    with pytest.raises(splits.LeakageError, match="in both"):
        splits.check_disjoint(train, test)
    with pytest.raises(splits.LeakageError, match="after their test"):
        splits.check_time_order(train, test, per_user=True)
    with pytest.raises(splits.LeakageError, match="later than"):
        splits.check_time_order(train, test, per_user=False)


def test_bad_ratios_are_clear_errors(tiny_ratings):
    with pytest.raises(ValueError, match="test_ratio"):
        splits.random_split(tiny_ratings, 1.5)
    with pytest.raises(ValueError, match="summing to 1"):
        splits.per_user_ratio_split(tiny_ratings, (0.5, 0.1, 0.1))


def _recbole_calcu_split_ids(tot, ratios):
    """RecBole 1.2 ``Dataset._calcu_split_ids`` (recbole/data/dataset/dataset.py), transcribed
    line for line, with the normalisation its caller ``split_by_ratio`` applies first."""
    tot_ratio = sum(ratios)
    ratios = [_ / tot_ratio for _ in ratios]
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    split_ids = np.cumsum(cnt)[:-1]
    return list(split_ids)


def test_recbole_split_counts_by_hand():
    # 8:1:1; valid and test are int(0.1 * tot), training the rest; below 10 interactions the
    # last parts get one each while training keeps more than one
    expected = {
        0: [0, 0, 0],
        1: [1, 0, 0],  # training holds the only one: no bump
        2: [1, 0, 1],  # test bumped, then training is down to 1: valid stays empty
        3: [1, 1, 1],
        9: [7, 1, 1],
        10: [8, 1, 1],
        15: [13, 1, 1],  # valid and test rounded down (our old rounding gave 12/1/2)
        19: [17, 1, 1],
        20: [16, 2, 2],
        125: [101, 12, 12],
    }
    for tot, cnt in expected.items():
        assert splits.recbole_split_counts(tot, (0.8, 0.1, 0.1)) == cnt, tot


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.7, 0.2, 0.1)])
def test_recbole_split_counts_match_recbole_for_1_to_200(ratios):
    for tot in range(1, 201):
        cnt = splits.recbole_split_counts(tot, ratios)
        assert sum(cnt) == tot and min(cnt) >= 0
        assert [int(x) for x in np.cumsum(cnt)[:-1]] == _recbole_calcu_split_ids(tot, ratios), tot


def test_per_user_ratio_split_cuts_each_user_as_recbole_does():
    # one user per history length 1..200; each user's part sizes must be RecBole's
    counts = np.arange(1, 201)
    df = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(len(counts)), counts),
            "item_id": np.concatenate([np.arange(c) for c in counts]),
        }
    )
    for seed in (0, 1):
        sp = splits.per_user_ratio_split(df, (0.8, 0.1, 0.1), seed=seed)
        sizes = [sp.train, sp.valid, sp.test]
        for u, c in enumerate(counts):
            got = [int((part.user_id == u).sum()) for part in sizes]
            cuts = _recbole_calcu_split_ids(int(c), (0.8, 0.1, 0.1))
            assert got == [int(x) for x in np.diff([0, *cuts, c])], (u, c)


def test_per_user_ratio_split_order_is_seeded_random():
    df = pd.DataFrame({"user_id": [0] * 20, "item_id": range(20)})
    tests = {tuple(sorted(splits.per_user_ratio_split(df, seed=s).test.item_id)) for s in range(10)}
    assert len(tests) > 1  # a random per-user order (RecBole's RO), not the file order
    a = splits.per_user_ratio_split(df, seed=3)
    assert a.test.equals(splits.per_user_ratio_split(df, seed=3).test)
