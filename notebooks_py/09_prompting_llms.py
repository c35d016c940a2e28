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
# name: 09_prompting_llms
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# generate: true
# requirements: null
# environment: null
# files: []

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/llm4rec/llm4rec/blob/main/notebooks/09_prompting_llms.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/llm4rec/llm4rec/main?labpath=notebooks%2F09_prompting_llms.ipynb)
#
# # 09 · Prompting language models to rank: the LLMRank protocol, backends, and fine-tuning at scale
#
# **Promise:** you will ask a language model to *rank* a user's next movie among 20 candidates,
# the way the zero-shot LLM recommenders in the literature do, parse its free-text answer back
# into a ranking, measure the biases this protocol is known for, and set every number beside
# collaborative baselines on *the same* candidate lists. Then you will fine-tune a decoder LLM
# TALLRec-style and run that training data-parallel on two processes with `accelerate`.
#
# **What you will learn**
# 1. The LLMRank protocol (Hou et al. 2024): history as titles, 20 candidates, a ranking asked for
#    in words, NDCG@10 and HR@1 against the score of a random order.
# 2. Parsing: matching an answer's titles back to the catalogue, and what a *valid* answer is.
# 3. One interface, three backends: a local causal LM, an OpenAI-compatible endpoint, and the
#    offline sentence encoder; why the baselines must see the same candidates.
# 4. Choosing a prompt setting on validation users, then comparing the chosen LLM with SASRec,
#    EASE and popularity, paired, on the same test users and candidates.
# 5. Position, history-order and popularity biases, measured.
# 6. TALLRec with a decoder and LoRA, and what changes when training spans many GPUs.
#
# **What runs on this machine.** The only pretrained model available offline is the sentence
# encoder all-MiniLM-L6-v2, so the *offline* numbers here are the encoder's, clearly labelled: it is
# a bi-encoder (history text against candidate title), not a prompted LLM. The decoder path runs
# with a tiny *randomly initialised* GPT-2 and the endpoint path with a scripted loopback server:
# both check the code, neither is a result. On a machine with a model, set `DECODER_MODEL` (a
# folder or hub id, e.g. `"Qwen/Qwen2.5-1.5B-Instruct"`, with `PROFILE="gpu"`) or `LLM_ENDPOINT`
# (e.g. a local vLLM or Ollama server) and the same cells produce real, recorded results. The
# verdicts about prompted LLMs are judged in every run; without a real model their lines say that
# the model behind them has random weights, so they check the code and say nothing about LLMs.
#
# The source articles' claims tested here (*ChatGPT-rec study*) are listed in
# [docs/claims.md](../docs/claims.md).

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
PROFILE = "full"
DEVICE = "auto"
SEED = 42
DATA_DIR = ""
RESULTS_PATH = "../build/results.json"
# BASE_MODEL: the sentence encoder of the offline backend; empty means all-MiniLM-L6-v2
BASE_MODEL = ""
# DECODER_MODEL: a causal LM folder or hub id (its chat template is used when it has one), e.g.
# "Qwen/Qwen2.5-1.5B-Instruct" on a GPU runner; empty: a tiny random GPT-2 checks the code path
DECODER_MODEL = ""
# LLM_ENDPOINT: an OpenAI-compatible base URL, e.g. "http://localhost:8000/v1" (vLLM) or
# "http://localhost:11434/v1" (Ollama), serving LLM_MODEL; an API key, if the server needs one,
# is read from the LLM_API_KEY environment variable. Empty: a scripted loopback server.
LLM_ENDPOINT = ""
LLM_MODEL = ""

# %%
import os
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from transformers.utils import logging as hf_logging

from llm4rec_utils import data, preprocess, splits
from llm4rec_utils import verdicts as V
from llm4rec_utils.claims import claim_lines, judge
from llm4rec_utils.collaborative import ease_weights, interaction_matrix
from llm4rec_utils.constants import ITEM_COL, LABEL_COL, USER_COL
from llm4rec_utils.distributed import build_model, write_samples
from llm4rec_utils.embeddings import encode_texts
from llm4rec_utils.finetune import (
    FinetuneConfig,
    answer_prompt,
    count_parameters,
    finetune_text_model,
    load_base_model,
    predict_texts,
    tiny_gpt2,
)
from llm4rec_utils.llm_backends import (
    BiEncoderRanker,
    CausalLMRanker,
    EndpointClient,
    EndpointRanker,
    LoopbackChatServer,
    echo_candidates,
)
from llm4rec_utils.llmrank import (
    build_candidates,
    choose_on_validation,
    parse_ranking,
    popularity_percentile,
    position_spread,
    random_floor,
    rank_prompt,
    run_rerank,
    score_ranker,
)
from llm4rec_utils.metrics import auc
from llm4rec_utils.prompts import build_tallrec_samples, movie_titles, prompt_maker, split_tallrec
from llm4rec_utils.repro import by_profile, check_profile, get_device, set_seed
from llm4rec_utils.sequential import (
    SASRec,
    sasrec_ml100k_config,
    sasrec_ml100k_training,
    sasrec_score_fn,
    train_sasrec,
    user_sequences,
)
from llm4rec_utils.stats import bootstrap_ci
from llm4rec_utils.summary import notebook_table, recap
from llm4rec_utils.tooling.artifacts import code_version, load_model
from llm4rec_utils.tooling.results import record_metric

# transformers' own code calls its deprecated `is_gradient_checkpointing` whenever peft wraps a
# model: an internal deprecation inside transformers, not something this notebook's code does
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
# peft notices that GPT-2's attention projection is a Conv1D (weights stored transposed) and sets
# fan_in_fan_out=True itself; its warning reports that correction, which section 6 relies on
warnings.filterwarnings("ignore", message=".*fan_in_fan_out is set to False.*", category=UserWarning)
# transformers draws a "Loading weights" bar for every model it loads; in a saved notebook it
# reads 0%, so it is switched off (the package functions below are called with progress=False)
hf_logging.disable_progress_bar()
check_profile(PROFILE)
set_seed(SEED)
device = get_device(DEVICE)
NOTEBOOK = "09_prompting_llms"
record = partial(record_metric, RESULTS_PATH, NOTEBOOK)
CACHE = Path(RESULTS_PATH).parent / "cache"  # notebook 03's SASRec, cached endpoint answers
sns.set_theme(style="whitegrid")
N_USERS = by_profile(PROFILE, smoke=60, full=943)  # test users, 20 candidates each
N_LLM_USERS = by_profile(PROFILE, smoke=3, full=6, gpu=200)  # test users a causal LM ranks (slow)
N_ENDPOINT_USERS = by_profile(PROFILE, smoke=5, full=N_USERS)  # test users an LLM endpoint ranks
N_VALID = by_profile(PROFILE, smoke=5, full=200)  # validation users an LLM setting is tried on
N_SHUFFLES = 3  # candidate orders per ranker: the position-bias test
MAX_HISTORY = 20  # the most recent titles a prompt lists (LLMRank's prompts: up to 50)
RECENT_FIRST = True  # list them newest first (LLMRank's prompts: oldest first, i.e. False)
print("device:", device, "| profile:", PROFILE)

# %% [markdown]
# ## 1. The protocol
# For each test user we take notebook 03's leave-one-out split: the user's last interaction (by
# time, ties broken by the documented seeded hash) is the true next item, and everything before
# it is the history. The candidate list is that item plus 19 movies the user never rated, drawn at
# random, so a random order ranks the truth first with probability HR@1 = 0.05. The model sees
# the candidates **in a shuffled order** (the truth in a random place; sections 4a and 5b show why).
#
# **The history in the prompt** is the user's `MAX_HISTORY` = 20 most recent titles, written
# **newest first** (`RECENT_FIRST = True`). That is a choice, and not LLMRank's: its prompts list
# up to 50 titles, oldest first (its *recency-focused* variant adds a sentence naming the most
# recent one). Newest first puts the recent titles where a reader that stops early, or a
# tokenizer that truncates the end, still sees them. To follow LLMRank, set
# `MAX_HISTORY = 50` and `RECENT_FIRST = False` in the set-up cell: the prompt printed below and
# the bi-encoder read both. The prompted LLMs of section 5 read `MAX_HISTORY` and try *both*
# orders on validation users, keeping the one that ranks better there. (Section 4b measures the
# order for the encoder.)
#
# Metrics: **HR@1** (the truth ranked first) and **NDCG@10** (1/log₂(rank + 1) when the truth is in
# the top 10). The cell prints what a random order scores on both, the floor every ranker here
# must clear.

# %%
ds = data.load_movielens_100k(DATA_DIR or None)
interactions = preprocess.to_implicit(ds.ratings, threshold=None)
encoded, user_map, item_map = preprocess.encode_ids(interactions)
num_users, num_items = len(user_map), len(item_map)
loo = splits.leave_one_out_split(encoded, seed=SEED)  # notebook 03's split
seqs = user_sequences(pd.concat([loo.train, loo.valid]), num_users, seed=SEED)  # before the truth
test = loo.test.sample(min(N_USERS, len(loo.test)), random_state=SEED).sort_values(USER_COL)
users = test[USER_COL].to_numpy()
cands = build_candidates(test, [loo.train, loo.valid, loo.test], num_items, n_negatives=19, seed=SEED)
title_of = movie_titles(ds.items)  # raw item id -> "Toy Story (1995)": the year disambiguates
item_title = np.array([title_of[raw] for raw in item_map.decode(np.arange(num_items))])


def history(row):
    """Row ``row``'s history as titles, oldest first."""
    return list(item_title[seqs[users[row]]])


def titles_of(items):
    return list(item_title[items])


floor = random_floor(20, 10)
print(f"{len(users)} users x {cands.shape[1]} candidates (the truth in column 0 of `cands`)")
print(f"a random order scores NDCG@10 {floor['ndcg@10']:.4f} and HR@1 {floor['hr@1']:.2f} on average")
shown = cands[0][np.random.default_rng(SEED).permutation(20)]
print("\n" + rank_prompt(history(0), titles_of(shown), max_history=MAX_HISTORY, recent_first=RECENT_FIRST))
print("\n(the truth for this user:", item_title[cands[0, 0]] + ")")

# %% [markdown]
# **Validation users.** A prompted LLM has settings to choose (section 5a): likelihood or
# generation, a worked example or none, the history newest or oldest first. The choice is made on
# *validation* users, and the test users are then ranked once, with the chosen setting. A
# validation user's target is their second-to-last interaction (the split's validation item),
# their history is what came before it, and the 20 candidates are drawn as above among movies the
# user never rated, so the test item is never one of them. The users are drawn at random, leaving
# out the one whose test item section 5a shows as its worked example; a validation user can also
# be a test user, then at an earlier item.

# %%
train_seqs = user_sequences(loo.train, num_users, seed=SEED)  # before each validation item
valid = loo.valid[loo.valid[USER_COL] != users[-1]].sample(N_VALID, random_state=SEED + 1)
valid_users = valid[USER_COL].to_numpy()
valid_cands = build_candidates(valid, [loo.train, loo.valid, loo.test], num_items, n_negatives=19, seed=SEED + 1)
test_item = dict(zip(loo.test[USER_COL], loo.test[ITEM_COL], strict=True))
assert not any(test_item[u] in row for u, row in zip(valid_users, valid_cands, strict=True))  # no test item shown


def valid_history(row):
    """Validation row ``row``'s history as titles, oldest first (everything before its target)."""
    return list(item_title[train_seqs[valid_users[row]]])


print(f"{len(valid_users)} validation users x {valid_cands.shape[1]} candidates (the validation item in column 0); "
      f"{len(set(valid_users) & set(users))} of them are also test users, at their earlier item")


# %% [raw]
# # BEGIN QUESTION
# name: q1_floor
# points: 2

# %% [markdown]
# ### Exercise 1.1 (auto-graded): the random floor
# Write `my_random_floor(n_candidates, k=10)` returning `(hr_at_1, ndcg_at_k)` for a ranker that orders
# the candidates uniformly at random, with the true item somewhere among them: average the
# metrics over every position it can land in. Any ranker worth reporting must beat this.

# %% [raw]
# # BEGIN SOLUTION

# %%
def my_random_floor(n_candidates, k=10):
    # BEGIN SOLUTION
    ranks = np.arange(1, n_candidates + 1)
    return 1 / n_candidates, float(((ranks <= k) / np.log2(ranks + 1)).mean())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_h, _n = my_random_floor(20)
assert np.isclose(_h, 0.05) and np.isclose(_n, 0.2272, atol=1e-4)

# %%
# HIDDEN
assert all(np.isclose(my_random_floor(n, k)[1], random_floor(n, k)[f"ndcg@{k}"]) for n, k in [(5, 3), (50, 10), (100, 20)])

# %%
# HIDDEN
assert my_random_floor(1) == (1.0, 1.0)

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. Parsing an answer
# A chat model answers in prose. Each line of the answer is stripped of numbering and bullets,
# normalised (lower case, no year, "Usual Suspects, The" → "the usual suspects") and matched to
# the closest candidate title (exact, else a close string match); lines of talk around the list
# (a preamble, a sign-off) are ignored. An answer is **valid** when it names every candidate once
# and nothing else. A true item the answer leaves out counts as a miss, ranked beyond the list,
# as LLMRank scores it (`run_rerank(..., omitted="random")` would instead give it a random place
# among the candidates left out). Three made-up answers show the cases:

# %%
shown_titles = titles_of(shown)
answers = {
    "clean, numbered": "\n".join(f"{i}. {t}" for i, t in enumerate(shown_titles[::-1], 1)),
    "reworded: no years, lower case": "\n".join(t.rsplit(" (", 1)[0].lower() for t in shown_titles),
    "chatty, one title twice, one invented": "Sure! Based on your history:\n1. " + shown_titles[3]
    + "\n2. " + shown_titles[3].upper() + "\n3. The Matrix (1999)\n4. " + shown_titles[0],
}
rows = []
for label, answer in answers.items():
    p = parse_ranking(answer, shown_titles)
    rows.append({"answer": label, "candidates named": len(p.order), "duplicates": p.duplicates,
                 "unmatched lines": len(p.unknown), "complete": p.complete, "valid": p.valid})
parsed = pd.DataFrame(rows).set_index("answer")
assert parsed["valid"].tolist() == [True, True, False]
parsed


# %% [raw]
# # BEGIN QUESTION
# name: q2_title
# points: 2

# %% [markdown]
# ### Exercise 2.1 (auto-graded): matching an answer back to the catalogue
# A model writes "The Usual Suspects", the catalogue says "Usual Suspects, The (1995)". Write
# `clean_title(title)`: drop a trailing year in parentheses, lower-case, move a trailing
# ", The" / ", A" / ", An" to the front, drop punctuation other than letters, digits and spaces,
# and squeeze spaces.

# %% [raw]
# # BEGIN SOLUTION

# %%
def clean_title(title):
    # BEGIN SOLUTION
    import re

    t = re.sub(r"\(\s*\d{4}\s*\)\s*$", "", title.strip()).strip().lower()
    m = re.match(r"^(.*),\s*(the|a|an)$", t)
    if m:
        t = f"{m.group(2)} {m.group(1)}"
    t = re.sub(r"[^a-z0-9 ]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert clean_title("Usual Suspects, The (1995)") == "the usual suspects" == clean_title("The Usual Suspects")

# %%
# HIDDEN
assert clean_title("Star Wars (1977)") == "star wars" and clean_title("Seven (Se7en) (1995)") == "seven se7en"

# %%
# HIDDEN
from llm4rec_utils.llmrank import normalize_title

_titles = movie_titles(data.load_movielens_100k().items)
assert sum(clean_title(t) == normalize_title(t) for t in _titles.values()) / len(_titles) > 0.95

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. Backends behind one interface
# Every backend answers `rank(history_titles, shown_titles)` with an order of the shown
# candidates, so the evaluation loop below never changes. Rankers that produce *scores*
# (popularity, EASE, SASRec, the encoder) turn them into an order; prompted LLMs return text
# that section 2's parser reads.
#
# ### 3a. The offline backend: the sentence encoder as a bi-encoder
# A **bi-encoder** embeds the two sides separately and compares them: here the history (the
# recent titles joined into one text, in the order `RECENT_FIRST` sets) and each candidate title, by cosine
# similarity. It is a real pretrained model (all-MiniLM-L6-v2) that knows English but has never
# seen a rating; it is *not* a prompted LLM and does not read instructions. Every text is encoded
# once and cached.

# %%
encode = partial(encode_texts, base_model=BASE_MODEL or None, device=device, progress=False, cache_dir=CACHE)
bi = BiEncoderRanker(encode, recent_first=RECENT_FIRST, max_history=MAX_HISTORY, seed=SEED)
start = time.perf_counter()
bi.warm(list(item_title) + [bi.history_text(history(r)) for r in range(len(users))])
print(f"encoded {len(bi.cache):,} texts in {time.perf_counter() - start:.1f} s")
runs = {}  # ranker name -> N_SHUFFLES runs over the same candidates, shown in other orders
rank_fns = {}  # ranker name -> its rank function on the test rows (section 8 reuses it)


def ranks_with(ranker, hist=history):
    """A ``rank_fn`` for run_rerank: ``ranker.rank`` on row r's history (``hist``) and the shown titles."""
    return lambda r, shown: ranker.rank(hist(r), titles_of(shown))


def evaluate(name, rank_fn, n=None):
    """Rank the first ``n`` test users' candidates N_SHUFFLES times, each in another shown order."""
    sub = cands if n is None else cands[:n]
    runs[name], rank_fns[name] = [run_rerank(rank_fn, sub, seed=SEED + s) for s in range(N_SHUFFLES)], rank_fn
    return runs[name][0].metrics()


res = evaluate("minilm-biencoder", ranks_with(bi))
print(f"minilm-biencoder: NDCG@10 {res['ndcg@10']:.4f}, HR@1 {res['hr@1']:.4f} on {len(users)} users")

# %% [markdown]
# ### 3b. Baselines on the same candidates
# - **popularity**: interaction counts before the test items;
# - **EASE** (notebook 06), λ = 250, one of the two middle values of 06's validation grid, on the
#   same interactions;
# - **SASRec**: notebook 03's model, loaded from `build/cache/` when 03 ran with this seed and
#   profile (the cache key also holds the model's config, the split and the model code); otherwise
#   one is trained here, and the cell says so.

# %%
known = pd.concat([loo.train, loo.valid])
pop = np.bincount(known[ITEM_COL], minlength=num_items).astype(float)
R = interaction_matrix(known, num_users, num_items)
ease = np.asarray(R[users] @ ease_weights(R, reg=250.0))
sasrec = SASRec(sasrec_ml100k_config(num_items))
key = dict(config=sasrec.cfg, train=sasrec_ml100k_training(PROFILE), split="loo-full", seed=SEED, profile=PROFILE,
           code=code_version(SASRec))
source = load_model(CACHE, "sasrec", sasrec, **key)
if source is None:  # notebook 03 has not run with these settings
    train_sasrec(sasrec, user_sequences(loo.train, num_users, seed=SEED), device=device, seed=SEED,
                 epochs=by_profile(PROFILE, smoke=2, full=30), batch_size=32, lr=2e-3)
print("SASRec:", f"notebook 03's model ({source.name})" if source else "NOT notebook 03's model: trained here")
sas = sasrec_score_fn(sasrec.to(device).eval(), seqs, device)(users)
for name, table in [("popularity", np.broadcast_to(pop, (len(users), num_items))), ("ease", ease), ("sasrec", sas)]:
    evaluate(name, score_ranker(lambda r, shown, t=table: t[r, shown], seed=SEED))


def summarise(name):
    first = runs[name][0]
    lo, hi = bootstrap_ci(first.ndcg(), n_boot=2000, seed=SEED)
    return first.metrics() | {"ndcg@10_ci_low": lo, "ndcg@10_ci_high": hi,
                              "position_spread": position_spread(runs[name]), "users": len(first.ranks)}


board = pd.DataFrame({name: summarise(name) for name in runs}).T
board.round(4)

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
y = board["ndcg@10"]
err = np.vstack([y - board["ndcg@10_ci_low"], board["ndcg@10_ci_high"] - y])
ax.barh(board.index, y, xerr=err, color=sns.color_palette()[0], capsize=3)
ax.axvline(floor["ndcg@10"], color="grey", ls="--", label="random order")
ax.set(xlabel="NDCG@10 over 20 candidates (95% bootstrap interval)", title="The same candidate lists, four rankers")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 3.1 (change and measure, not auto-graded)
# Give the bi-encoder only the last 5 titles of each history instead of the `MAX_HISTORY` most
# recent ones: a second `BiEncoderRanker(encode, max_history=5, cache=bi.cache)`, ranked with
# `run_rerank(ranks_with(ranker), cands, seed=SEED)` as in 4b. Does NDCG@10 move beyond its
# interval? What does that say about what the encoder reads?

# %%
# your code here


# %% [markdown]
# ## 4. The protocol's biases
# ### 4a. Candidate position
# A ranker that reads a list can prefer what comes first. The test: rank the *same* candidates
# three times, each time shown in another random order, and report the spread (max − min) of
# NDCG@10 across the three. Score-based rankers are blind to the order by construction (their
# spread is zero up to random tie-breaks); section 5 shows a ranker that is all position bias.
#
# ### 4b. History order
# The encoder reads at most its configured number of word pieces (`max_seq_length` in its
# sentence-transformers config, 256 for all-MiniLM-L6-v2), so a history longer than that is cut at
# the end: the order in which the titles are written decides which ones it sees. A history that
# fits is read whole, and only the order itself can change its embedding. The cell ranks with the
# history newest first, oldest first and shuffled, and gives the per-user difference with a
# bootstrap interval.

# %%
shuffled = {r: list(np.random.default_rng(SEED + r).permutation(history(r)[-MAX_HISTORY:]))
            for r in range(len(users))}
variants = {  # label: (ranker, history of row r as it is written), whatever RECENT_FIRST says
    "newest first": (BiEncoderRanker(encode, recent_first=True, max_history=MAX_HISTORY, cache=bi.cache), history),
    "oldest first": (BiEncoderRanker(encode, recent_first=False, max_history=MAX_HISTORY, cache=bi.cache), history),
    "shuffled": (BiEncoderRanker(encode, recent_first=False, max_history=MAX_HISTORY, cache=bi.cache),
                 lambda r: shuffled[r]),
}
order_ndcg = {}
for label, (ranker, hist) in variants.items():
    ranker.warm([ranker.history_text(hist(r)) for r in range(len(users))])
    run = run_rerank(lambda r, shown, rk=ranker, h=hist: rk.rank(h(r), titles_of(shown)), cands, seed=SEED)
    order_ndcg[label] = run.ndcg()
order_rows = []
for label, values in order_ndcg.items():
    diff = values - order_ndcg["newest first"]
    lo, hi = bootstrap_ci(diff, n_boot=2000, seed=SEED)
    order_rows.append({"history": label, "ndcg@10": values.mean(), "vs newest first": diff.mean(),
                       "95% low": lo, "95% high": hi})
order_table = pd.DataFrame(order_rows).set_index("history")
order_table.round(4)

# %% [markdown]
# ### 4c. Popularity of what each ranker puts first
# LLMRank found that prompted LLMs favour popular candidates. The same question for every ranker
# so far: the mean popularity percentile (0 = the least rated movie, 1 = the most rated) of the
# item each ranker puts first, beside that of the true next items and of all candidates. Section
# 5c asks it again once the prompted rankers have run.

# %%
pct = {name: popularity_percentile(r[0].top1, pop).mean() for name, r in runs.items()}
pct["(true next items)"] = popularity_percentile(cands[:, 0], pop).mean()
pct["(all candidates)"] = popularity_percentile(cands.ravel(), pop).mean()
pct = pd.Series(pct)
fig, ax = plt.subplots(figsize=(7, 3))
pct.plot.barh(ax=ax, color=[sns.color_palette()[0]] * (len(pct) - 2) + ["grey", "lightgrey"])
ax.set(xlabel="mean popularity percentile of the item ranked first", xlim=(0, 1),
       title="Which rankers favour popular items")
plt.tight_layout()
plt.show()
pct.round(3)

# %% [markdown]
# ### Exercise 4.1 (explain, not auto-graded)
# The scripted echo endpoint of section 5b (below) returns the candidates in the order shown.
# Using the position spread and HR@1 that section 5b prints, explain why shuffling the
# candidates is part of the protocol, and what a real LLM's spread would tell you.

# %% [markdown]
# ## 5. Prompted LLMs
# ### 5a. A local causal LM
# Two ways to turn a causal LM into a ranker. **Likelihood**: after the prompt, score each
# candidate by the mean log-probability of its title's tokens (always a complete ranking, one
# forward pass per candidate, and blind to nothing: the prompt still lists the candidates in the
# shown order). **Generation**: decode the answer greedily and parse it (what a chat user sees;
# answers can be incomplete or invent movies, counted by the valid share). **Few-shot** prepends
# one worked example: another user's history and candidates, answered the way the instruction
# asks, with all 20 candidates (that user's true item first, the others in the order shown).
# With the history newest or oldest first, that makes six **settings**.
#
# **Without `DECODER_MODEL` the model is a 2-layer GPT-2 with random weights on a handful of
# users: it checks the code path and its numbers are not results** (not recorded).

# %%
if DECODER_MODEL:
    dec_tok, dec_lm = load_base_model(DECODER_MODEL, kind="causal-lm", device=device)
    dec_name, note = Path(DECODER_MODEL).name.lower(), ""
else:
    dec_tok, _ = load_base_model(BASE_MODEL, kind="encoder")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # GPT-2's default token ids (50256) lie outside this small vocabulary:
    dec_lm = tiny_gpt2(len(dec_tok), seed=SEED, n_positions=1024).to(device)  # harmless for a random model
    hf_logging.set_verbosity(verbosity)
    dec_tok.model_max_length = dec_lm.config.n_positions  # the encoder's tokenizer says 512; this model reads 1,024
    dec_name, note = "tiny-random-gpt2", "  <- random weights: a code-path check, NOT a result"
n_llm = min(N_LLM_USERS, len(users) - 1)  # the last test user is the worked example, never ranked by an LLM
n_llm_valid = min(N_VALID, N_LLM_USERS)
demo_shown = cands[-1][np.random.default_rng(SEED).permutation(20)]
demo_answer = [cands[-1, 0], *[c for c in demo_shown if c != cands[-1, 0]]]  # all 20: the truth first
assert sorted(demo_answer) == sorted(demo_shown)
demo = (history(len(users) - 1), titles_of(demo_shown), titles_of(demo_answer))
new_tokens = by_profile(PROFILE, smoke=16, full=48, gpu=400)  # ~10 tokens per title
ORDERS = {"newest-first": True, "oldest-first": False}  # the history order a setting writes


def causal_ranker(mode, shots, recent_first):
    kw = {"max_history": MAX_HISTORY, "recent_first": recent_first, "examples": [demo][:shots]}
    return CausalLMRanker(dec_lm, dec_tok, mode=mode, device=device, max_new_tokens=new_tokens,
                          prompt_kwargs=kw, seed=SEED)


dec_settings = {f"{mode}{'-1-shot' * shots}-{order}": causal_ranker(mode, shots, recent)
                for mode, shots in [("likelihood", 0), ("generate", 0), ("generate", 1)]
                for order, recent in ORDERS.items()}
print(f"{dec_name}, {len(dec_settings)} settings: {', '.join(dec_settings)}{note}")

# %% [markdown]
# **The setting is chosen on validation users.** Every setting ranks the validation users'
# candidates once, each user's candidates shown in the same order to every setting, and
# `choose_on_validation` keeps the one with the best mean NDCG@10 (the package's
# `verdicts.select_on_validation`; a tie goes to the first listed). Only the chosen setting then
# ranks the test users, `N_SHUFFLES` times in other shown orders: the test users are looked at
# once, to confirm.

# %%
start = time.perf_counter()
dec_choice = choose_on_validation({label: ranks_with(m, valid_history) for label, m in dec_settings.items()},
                                  valid_cands[:n_llm_valid], seed=SEED)
print(f"{len(dec_settings)} settings x {n_llm_valid} validation users in {time.perf_counter() - start:.1f} s; "
      f"chosen: {dec_choice.chosen}{note}")
dec_choice.table.round(3)

# %%
dec_run = f"{dec_name}-{dec_choice.chosen}"
start = time.perf_counter()
res = evaluate(dec_run, ranks_with(dec_settings[dec_choice.chosen]), n=n_llm)
print(f"{dec_run} on the test users: {n_llm} users x {N_SHUFFLES} orders in {time.perf_counter() - start:.1f} s; "
      f"NDCG@10 {res['ndcg@10']:.3f}, valid answers {res['valid_share']:.0%}{note}")
gen = dec_settings["generate-newest-first"]
print("\nan answer generated for test user 0:", repr(gen.generate(gen.prompt(history(0), titles_of(shown)))[:200]))

# %% [markdown]
# ### 5b. An OpenAI-compatible endpoint
# `EndpointClient` speaks the `/v1/chat/completions` format that vLLM, Ollama, llama.cpp's server
# and hosted APIs share. It retries timeouts, refused connections, HTTP 429 and 5xx with
# exponential backoff, stops at a request budget, and stores every answer on disk under
# `build/cache/llm/` keyed by (model, prompt, settings): a rerun sends no request at all.
#
# **Without `LLM_ENDPOINT` the cell starts a loopback server whose "model" is a Python function
# that lists the candidates in the order it was shown them.** It is a code-path check, and a
# useful one: it is the extreme of position bias. By construction, with the candidates shuffled
# its expected score is a random order's, and shown the truth first it ranks the truth first every
# time (the cell prints both). That is why the protocol shuffles, and why a single fixed order can
# flatter a prompted LLM.
#
# With `LLM_ENDPOINT` the endpoint has four settings (a worked example or none, the history
# newest or oldest first), chosen on the validation users as in 5a; the chosen one then ranks
# `N_ENDPOINT_USERS` test users. The request budget is twice the requests the cell plans.

# %%
if LLM_ENDPOINT:  # four settings (a worked example or none, two history orders), chosen on validation users
    n_ep = min(N_ENDPOINT_USERS, len(users) - 1)  # the last test user is the worked example
    ep_kw = {f"chat{'-1-shot' * shots}-{order}": {"max_history": MAX_HISTORY, "recent_first": recent,
                                                   "examples": [demo][:shots]}
             for shots in (0, 1) for order, recent in ORDERS.items()}
    planned = len(ep_kw) * N_VALID + (N_SHUFFLES + 2) * n_ep  # validation, test orders, position-bias test
    client = EndpointClient(LLM_ENDPOINT, LLM_MODEL, cache_dir=CACHE / "llm", api_key=os.environ.get("LLM_API_KEY"),
                            budget=2 * planned)  # twice the planned requests: room for retries
    ep_settings = {label: EndpointRanker(client, name=f"endpoint-{LLM_MODEL}-{label}", prompt_kwargs=kw)
                   for label, kw in ep_kw.items()}
    ep_choice = choose_on_validation({label: ranks_with(e, valid_history) for label, e in ep_settings.items()},
                                     valid_cands, seed=SEED)
    ep_run = ep_settings[ep_choice.chosen].name
    evaluate(ep_run, ranks_with(ep_settings[ep_choice.chosen]), n=n_ep)
    print(ep_choice.table.round(3).to_string())
    print(f"{ep_run} chosen on {len(valid_cands)} validation users, ranked {n_ep} test users; "
          f"{client.requests} requests, {client.cache_hits} answers from the cache")
else:
    with LoopbackChatServer(echo_candidates) as server:
        client = EndpointClient(server.url, "scripted-echo", budget=None)  # local: no budget
        ep = EndpointRanker(client, name="scripted-echo")
        evaluate(ep.name, ranks_with(ep))
        truth_first = run_rerank(ranks_with(ep), cands, shuffle=False)
    echo = runs["scripted-echo"]
    print(f"scripted echo, shuffled candidates: HR@1 {echo[0].metrics()['hr@1']:.3f} "
          f"(random: {floor['hr@1']:.2f}), NDCG@10 spread over {N_SHUFFLES} orders {position_spread(echo):.3f}")
    print(f"scripted echo, truth always shown first: HR@1 {truth_first.metrics()['hr@1']:.3f}")
    print(f"{client.requests} requests to {server.url}, valid answers {echo[0].valid.mean():.0%}")

# %% [markdown]
# ### 5c. Popularity of what every ranker puts first, prompted rankers included
# Section 4c's question again, now that the prompted rankers have run: for each ranker, the mean
# popularity percentile of the item it ranks first, beside that of the true next items of the
# *same* users (a causal LM ranks only the first `N_LLM_USERS`), and the mean per-user
# difference. An answer that names no candidate has no first item and is left out; `users`
# counts the answers that name one. Code-path checks (the random GPT-2, the scripted echo) are
# listed and marked, and never recorded.

# %%
CODE_PATH_ONLY = ("tiny-random-gpt2", "scripted-echo")  # code-path checks: shown, never recorded


def popularity_bias(name):
    """Popularity percentile of what ``name`` ranks first against the true items of the same users."""
    first = runs[name][0]
    named = first.top1 >= 0  # -1: the answer named no candidate
    row = {"users": int(named.sum()), "code path only": name.startswith(CODE_PATH_ONLY)}
    if not named.any():
        return row | {"first item": np.nan, "true next item": np.nan, "first − true": np.nan}
    top = popularity_percentile(first.top1[named], pop)
    true = popularity_percentile(cands[: len(first.top1), 0][named], pop)
    return row | {"first item": top.mean(), "true next item": true.mean(), "first − true": (top - true).mean()}


popularity = pd.DataFrame.from_dict({name: popularity_bias(name) for name in runs}, orient="index")
popularity.round(3)

# %% [markdown]
# ### 5d. The chosen LLM against SASRec, EASE and popularity
# The prompted LLM the claims are about is the validation-chosen setting of the configured
# backend (`DECODER_MODEL` or `LLM_ENDPOINT`; with both, the one with the better validation
# NDCG@10 on the validation users both ranked). SASRec, EASE and popularity ranked the *same*
# test users' *same* 20 candidates, so the comparison is paired: per user, the LLM's NDCG@10
# (averaged over the `N_SHUFFLES` shown orders) minus the baseline's, with a bootstrap interval
# over users. **Without a real model the LLM is the random-weight GPT-2 of 5a: the table and the
# verdicts built on it check the code path and say nothing about language models**, and their
# lines in the Summary say so.

# %%
llm_options = ({dec_run: dec_choice} if DECODER_MODEL else {}) | ({ep_run: ep_choice} if LLM_ENDPOINT else {})
random_weights = not llm_options  # no real model named: the random GPT-2 stands in, a code-path check
llm_options = llm_options or {dec_run: dec_choice}
n_common = min(len(c.per_user()) for c in llm_options.values())  # validation users every backend ranked
llm_run = V.select_on_validation({run: c.per_user()[:n_common].mean() for run, c in llm_options.items()})
n_cmp = len(runs[llm_run][0].ranks)  # the test users the chosen LLM ranked: rows 0..n_cmp-1 of `cands`


def mean_ndcg(name, n=n_cmp):
    """Per-user NDCG@10 of ``name`` on the first ``n`` test users, averaged over the shown orders."""
    return np.mean([run.ndcg()[:n] for run in runs[name]], axis=0)


llm_ndcg = mean_ndcg(llm_run)
llm_note = (f"{llm_run}: setting chosen on {len(llm_options[llm_run].per_user())} validation users, "
            f"scored once on {n_cmp} test users")
# said once: printed here, and in each verdict line as the reason it stays undecided
stand_in = ("RANDOM WEIGHTS (no DECODER_MODEL or LLM_ENDPOINT given): a random-weight model stands in for "
            "the LLM, a code-path check, not a result about language models") if random_weights else ""
vs_baseline = {base: V.paired_diff(llm_ndcg, mean_ndcg(base), seed=SEED,
                                   test=f"{llm_run} − {base}, per-user NDCG@10 (mean over {N_SHUFFLES} shown orders), "
                                        "same test users and candidates")
               for base in ["sasrec", "ease", "popularity"]}
print(llm_note + (f"; {stand_in}" if stand_in else ""))
pd.DataFrame({base: {"LLM ndcg@10": llm_ndcg.mean(), "baseline ndcg@10": mean_ndcg(base).mean(),
                     "LLM − baseline": ev.effect, "95% low": ev.ci_low, "95% high": ev.ci_high, "users": ev.units}
              for base, ev in vs_baseline.items()}).T.round(4)

# %% [markdown]
# ### Exercise 5.1 (try it where you can, not auto-graded)
# If you have a GPU or an OpenAI-compatible server, run this notebook with
# `DECODER_MODEL` or `LLM_ENDPOINT` set (README: parameters). Which setting did the validation
# users choose? After the choice, rank the test users once with each of the other settings: does
# the test agree with the validation order? Compare the chosen model's position spread (its row
# of the Summary table) with the echo server's (printed in 5b when `LLM_ENDPOINT` is empty).

# %% [markdown]
# ## 6. TALLRec with a decoder ("Yes"/"No")
# TALLRec (Bao et al. 2023) fine-tunes a causal LM (LLaMA-7B in the paper) with LoRA to answer
# "Yes" or "No" to "will the user like this movie?". The score of a sample is logit("Yes") −
# logit("No") at the next-token position, trained with binary cross-entropy, so notebook 04's
# training loop, prompts and AUC apply unchanged. The task and its time split are 04's.
#
# **Without `DECODER_MODEL` the model is the tiny random GPT-2 again (LoRA on its fused attention
# projection): the AUC it prints is not a result.** With a real model on a GPU runner
# (`PROFILE="gpu"`) it trains on 20,000 samples and is recorded beside 04's encoder numbers.

# %%
samples, cut = build_tallrec_samples(ds.ratings, history_len=10, cut_quantile=0.8)
n_dec = by_profile(PROFILE, smoke=32, full=256, gpu=20000)
n_dec_test = by_profile(PROFILE, smoke=64, full=400, gpu=2500)
parts = split_tallrec(samples, n_dec, 32, n_dec_test, seed=SEED)
make_prompts = prompt_maker(ds.items)  # notebook 04's prompts, statistics included
dec_train_texts = [answer_prompt(t) for t in make_prompts(parts["train"])]
dec_test_texts = [answer_prompt(t) for t in make_prompts(parts["test"])]
dec_tok2, decoder = build_model(DECODER_MODEL, BASE_MODEL, SEED)  # LoRA r=8 + the Yes/No head
dec_hist = finetune_text_model(decoder, dec_tok2, dec_train_texts, parts["train"][LABEL_COL].to_numpy(),
                               FinetuneConfig(lr=1e-3, epochs=1, eval_every=10**9, patience=None),
                               seed=SEED, device=device, progress=False)
dec_scores = predict_texts(decoder, dec_tok2, dec_test_texts, device=device, desc="decoder", progress=False)
dec_auc = auc(parts["test"][LABEL_COL].to_numpy(), dec_scores)
print(f"decoder + LoRA: {count_parameters(decoder, trainable_only=True):,} trainable parameters, "
      f"{len(dec_train_texts)} samples in {dec_hist['wall_s']:.1f} s, test AUC {dec_auc:.3f}{note}")
print("an example prompt:", dec_train_texts[0][-160:])

# %% [markdown]
# ### Exercise 6.1 (change and measure, not auto-graded)
# Train the tiny decoder's LoRA with `r=2` and `r=32` (`build_model(DECODER_MODEL, BASE_MODEL,
# SEED, r=...)`, then the training and scoring lines of the cell above). Check the trainable
# counts against the formula of notebook 04, and say why the AUC tells you nothing here.

# %%
# your code here


# %% [markdown]
# ## 7. Fine-tuning past one machine
# The training above is one process. `llm4rec_utils.distributed` holds the same TALLRec loop as a
# script that an existing engine launches on many processes, Hugging Face **accelerate** (or
# PyTorch's `torchrun`): each process holds a full copy of the model, reads its own shard of every
# batch, and gradients are averaged across processes before each optimiser step (data-parallel
# training), so the copies stay identical. What changes when you scale out:
#
# - **Global batch** = per-process batch × processes × gradient-accumulation steps. Eight GPUs at
#   batch 8 take optimiser steps on 64 samples.
# - **Learning rate**: a larger global batch takes fewer, less noisy steps; a common starting
#   point is to scale the learning rate with the batch (linearly for SGD, closer to the square
#   root for Adam) and add warm-up, then check on validation.
# - **Gradient accumulation** reaches a global batch that does not fit in memory by summing
#   gradients over several batches before one step (`--grad-accum`).
# - Models too large for one GPU need sharding instead (FSDP, DeepSpeed ZeRO), which accelerate
#   configures without changing this loop.
#
# The launch lines (README, "Fine-tuning on many GPUs"):
# ```
# accelerate launch --num_processes 8 -m llm4rec_utils.distributed --data train.jsonl --out run/ --decoder-model MODEL
# torchrun --nproc_per_node 8 -m llm4rec_utils.distributed --data train.jsonl --out run/ --decoder-model MODEL
# ```
# The cell runs it here with **2 processes on the CPU** (gloo backend) for a few steps, and checks
# what data parallelism promises: different shards per process, identical weights at the end.

# %%
run_dir = CACHE / "distributed-run"
data_file = write_samples(CACHE / "tallrec-train.jsonl", make_prompts(parts["train"]), parts["train"][LABEL_COL])
cmd = [str(Path(sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
       "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "llm4rec_utils.distributed",
       "--data", str(data_file), "--out", str(run_dir), "--decoder-model", DECODER_MODEL, "--base-model", BASE_MODEL,
       "--steps", str(by_profile(PROFILE, smoke=2, full=8)), "--batch-size", "4", "--seed", str(SEED), "--cpu"]
start = time.perf_counter()
proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
assert proc.returncode == 0, proc.stderr[-2000:]
ranks = [pd.read_json(run_dir / f"rank{k}.json", typ="series") for k in range(2)]
shard = [set(r["seen"]) for r in ranks]
print(f"2 processes, {ranks[0]['steps']} steps, global batch {ranks[0]['global_batch']}, "
      f"{time.perf_counter() - start:.1f} s including start-up")
print(f"samples seen: rank 0 {len(shard[0])}, rank 1 {len(shard[1])}, shared {len(shard[0] & shard[1])}")
print("final weights identical across processes:", ranks[0]["final_digest"] == ranks[1]["final_digest"])
assert not shard[0] & shard[1] and ranks[0]["final_digest"] == ranks[1]["final_digest"]

# %% [markdown]
# ### Exercise 7.1 (change and measure, not auto-graded)
# Run the 2-process training with a per-process batch of 2 and gradient accumulation 2 in
# place of a batch of 4 (`"--batch-size", "2"` and `"--grad-accum", "2"` in `cmd`, then re-run
# the cell; copy `ranks` first to compare). Are the final weights the same? Which numbers must
# match for the global batch to be the same?

# %%
# your code here


# %% [markdown]
# ## 8. Record the results
# Every ranker on the same candidates is recorded under protocol `rerank-20-zero-shot` (an LLM
# setting with a worked example under `rerank-20-few-shot`); code-path checks (the random GPT-2,
# the scripted echo) are not.

# %%
for name in [n for n in runs if not n.startswith(CODE_PATH_ONLY)]:  # board rows, then LLM backends
    row = board.loc[name] if name in board.index else summarise(name)
    protocol = "rerank-20-few-shot" if "1-shot" in name else "rerank-20-zero-shot"
    for metric in ["ndcg@10", "hr@1", "valid_share", "position_spread", "ndcg@10_ci_low", "ndcg@10_ci_high"]:
        record(name, protocol, metric, row[metric], users=int(row["users"]))
    if popularity.loc[name, "users"]:  # every ranker whose answers named a first item (section 5c)
        record(name, protocol, "top1_popularity_pct", popularity.loc[name, "first item"],
               users=int(popularity.loc[name, "users"]))
for label, r in order_table.iterrows():
    record(f"minilm-biencoder ({label})", "rerank-20-zero-shot", "ndcg@10", r["ndcg@10"])
record("random-order", "rerank-20-zero-shot", "ndcg@10", floor["ndcg@10"])
record("random-order", "rerank-20-zero-shot", "hr@1", floor["hr@1"])
if DECODER_MODEL:
    record(f"{dec_name}-tallrec-lora", "tallrec-time", "auc", dec_auc, samples=len(dec_train_texts))

# %% [markdown]
# ### The claims, decided
# By the package's verdict engine, on the same users and candidates. The prompted-LLM claims are
# judged in every run on section 5d's paired comparison: the LLM's setting was chosen on the
# validation users, and the test users were looked at once. Without a real model their lines say
# that the model has random weights. A ranker is compared with the random order through its
# per-user NDCG@10 (the random order's expected value is the same for every user).

# %%
judge_here = partial(judge, results_path=RESULTS_PATH)


def vs_random(values, name):
    return V.exceeds(values.mean(), floor["ndcg@10"], f"{name} NDCG@10 over 20 candidates (random order's expected value)",
                     units=len(values), ci=bootstrap_ci(values, n_boot=2000, seed=SEED))


judge_here("llm-beats-random", vs_random(llm_ndcg, llm_run), note=llm_note, stand_in=stand_in)
for base in ["sasrec", "ease", "popularity"]:
    judge_here(f"llm-beats-{base}", vs_baseline[base], note=llm_note, stand_in=stand_in)
judge_here("encoder-beats-random", vs_random(runs["minilm-biencoder"][0].ndcg(), "minilm-biencoder"))
_ = judge_here("sasrec-beats-encoder", V.paired_diff(runs["sasrec"][0].ndcg(), runs["minilm-biencoder"][0].ndcg(), seed=SEED,
                                                     test="SASRec − encoder, NDCG@10, same users and candidates"))

# %% [markdown]
# Position bias is measured by placing the true item **first** and **last** among the candidates
# shown (the others in a seeded random order) and comparing the two runs per user; the spread
# over random shuffles cannot detect it. It is measured on the chosen LLM when a real one is
# configured, else on the encoder (the bias of a model with random weights would say nothing).
# The encoder scores each candidate on its own, so where the truth is shown cannot change its
# ranking beyond tie-breaks: without a real LLM this line checks the code path.

# %%
biased = "minilm-biencoder" if random_weights else llm_run
n_bias = len(runs[biased][0].ranks)
at_first = run_rerank(rank_fns[biased], cands[:n_bias], seed=SEED, truth_at=0)
at_last = run_rerank(rank_fns[biased], cands[:n_bias], seed=SEED, truth_at=cands.shape[1] - 1)
judge_here("position-bias", V.paired_diff(at_first.ndcg(), at_last.ndcg(), seed=SEED,
                                          test=f"{biased}: NDCG@10 with the truth shown first − shown last"),
           stand_in="the order-blind encoder stands in for an LLM (no DECODER_MODEL or LLM_ENDPOINT given)"
           if random_weights else "")
judge_here("history-order-matters", V.paired_diff(order_ndcg["oldest first"], order_ndcg["newest first"], seed=SEED,
                                                  test="encoder, oldest first − newest first, NDCG@10"),
           note=f"shuffled − newest first: {order_table.loc['shuffled', 'vs newest first']:+.4f}")
_ = judge_here("popularity-bias", V.paired_diff(popularity_percentile(runs["minilm-biencoder"][0].top1, pop),
                                            popularity_percentile(cands[:, 0], pop), seed=SEED,
                                            test="popularity percentile: the encoder's first item − the true item, per user"))

# %% [markdown]
# ## 9. Summary
# Printed from this run: the recorded table, one line per claim with its verdict, and a recap of
# what the notebook taught.

# %% [markdown]
# ### Exercise 9.1 (explain, not auto-graded)
# Read the verdict lines that the Summary cell below prints. Which of them are about a model with
# random weights, and what exactly would make them a result about a language model (which model,
# which protocol, which number)?

# %% tags=["summary"]
print(notebook_table(RESULTS_PATH, NOTEBOOK, metrics=["ndcg@10", "hr@1", "valid_share", "position_spread"]).to_string(), "\n")
print(claim_lines(RESULTS_PATH, NOTEBOOK[:2]), "\n")
print(recap([
    "The LLMRank protocol: history as titles, 20 shuffled candidates, NDCG@10 and HR@1 beside a random order.",
    "Parsing a free-text answer back to the candidates, and what makes an answer valid.",
    "One ranking interface over three backends, with the baselines on the same candidate lists.",
    "An LLM's prompt setting chosen on validation users, then compared with SASRec, EASE and popularity, paired.",
    "How position, history-order and popularity biases are measured.",
    "TALLRec's Yes/No scoring with a decoder and LoRA, and data-parallel training across processes.",
]))
if PROFILE == "full":  # robust directions on every user
    assert board.loc["sasrec", "ndcg@10_ci_low"] > floor["ndcg@10"] and board.loc["ease", "ndcg@10_ci_low"] > floor["ndcg@10"]

# %% [markdown] tags=["exercises"]
# ## Exercises
# 1. Give the bi-encoder the history *oldest first* but only the last 5 titles. Which matters more
#    here, the order or the length?
# 2. Write a scripted "model" for the loopback server that always puts the most popular candidate
#    first. What HR@1 does it reach, and how close is it to the popularity ranker of section 3b?
# 3. On a machine with a GPU, set `DECODER_MODEL` to a small instruct model and compare
#    `likelihood` with `generate`: which is more often valid, and which ranks better?
# 4. Run section 7 with `--grad-accum 2` and half the batch size. Is the global batch the same?
#    Are the final weights the same as before, and why (not)?

# %% [markdown] tags=["references"]
# ## References
# - Y. Hou et al. Large Language Models are Zero-Shot Rankers for Recommender Systems (LLMRank).
#   *ECIR* 2024.
# - K. Bao et al. TALLRec: An Effective and Efficient Tuning Framework to Align Large Language
#   Model with Recommendation. *RecSys* 2023.
# - W.-C. Kang and J. McAuley. Self-Attentive Sequential Recommendation (SASRec). *ICDM* 2018.
# - H. Steck. Embarrassingly Shallow Autoencoders for Sparse Data (EASE). *WWW* 2019.
# - N. Reimers and I. Gurevych. Sentence-BERT. *EMNLP* 2019.
# - P. Goyal et al. Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour (learning-rate
#   scaling and warm-up). 2017. Hugging Face Accelerate documentation.
