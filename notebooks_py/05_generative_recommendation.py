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
# name: 05_generative_recommendation
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# generate: true
# requirements: null
# environment: null
# files: []

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/llm4rec/llm4rec/blob/main/notebooks/05_generative_recommendation.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/llm4rec/llm4rec/main?labpath=notebooks%2F05_generative_recommendation.ipynb)
#
# # 05 · Generative recommendation: a GPT-style language model over item tokens
#
# **Promise:** you will treat viewing histories as sentences and train a GPT-2 from scratch on
# them, then use it as a recommender two ways (score every next item; generate the next few),
# and measure it against SASRec and popularity under the protocols of notebook 03. You will also
# try the *LLM4Rec pipeline* article's "pre-train, then fine-tune" recipe (the source articles
# and their claims: [docs/claims.md](../docs/claims.md)), a small scaling sweep, and item text
# injected into the item tokens.
#
# **What you will learn**
# 1. Behaviour as a language: items as tokens, users as sentences, the causal-LM loss.
# 2. Recommendation as next-token prediction (full ranking) and as generation (greedy, beam).
# 3. Whether pre-training on older behaviour helps a model fine-tuned on recent behaviour.
# 4. How quality and cost move with model size on a small data set.
# 5. What item text adds for rarely seen items.

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
# BASE_MODEL: empty means the offline all-MiniLM-L6-v2; only its tokenizer and word embeddings are used
BASE_MODEL = ""

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from llm4rec_utils import data, embeddings, preprocess, splits
from llm4rec_utils import verdicts as V
from llm4rec_utils.claims import claim_lines, judge
from llm4rec_utils.collaborative import popularity_scores
from llm4rec_utils.constants import ITEM_COL, TIMESTAMP_COL, USER_COL
from llm4rec_utils.evaluate import (
    evaluate_full_ranking,
    evaluate_sampled,
    top_k_items,
    validation_ndcg,
)
from llm4rec_utils.generative import (
    BOS_TOKEN,
    OFFSET,
    GPTRec,
    GPTRecConfig,
    generate_items,
    gpt_score_fn,
    lm_training_windows,
    train_gpt_rec,
)
from llm4rec_utils.repro import by_profile, check_profile, get_device, set_seed
from llm4rec_utils.sequential import (
    SASRec,
    SASRecConfig,
    sasrec_score_fn,
    train_sasrec,
    user_sequences,
)
from llm4rec_utils.stats import bootstrap_ci
from llm4rec_utils.summary import fmt, notebook_table, recap
from llm4rec_utils.tooling.results import record_metric

check_profile(PROFILE)
set_seed(SEED)
device = get_device(DEVICE)
NOTEBOOK = "05_generative_recommendation"
record = partial(record_metric, RESULTS_PATH, NOTEBOOK)
sns.set_theme(style="whitegrid")
# Training budgets (epochs). The 2-core CPU budget for the whole notebook is 5 minutes, so every
# model gets the same small budget; a GPU run ("gpu" profile) can afford far more.
EPOCHS = by_profile(PROFILE, smoke=1, full=15, gpu=100)
EPOCHS_SMALL = by_profile(PROFILE, smoke=1, full=6, gpu=50)
EVAL_EVERY = by_profile(PROFILE, smoke=1, full=5)
# The scaling sweep (section 5) is the cheapest training here, so it runs over several training
# seeds: its between-seed spread is what the one-seed comparisons of this notebook are held to
SWEEP_SEEDS = [SEED + i for i in range(by_profile(PROFILE, smoke=1, full=3))]
MAX_LEN = 50
print("device:", device)

# %% [markdown]
# ## 1. Behaviour as a language
#
# Each movie is a token; each user's time-ordered history is a sentence that starts with a
# BOS token. A GPT-2 is trained to predict every next token from the ones before it (the causal
# language-model loss, cross-entropy over the whole catalogue). We use the leave-one-out split of
# notebook 03 (same-second ratings in a seeded random order): the last item of each user is the test target, the second last validates.

# %%
ds = data.load_movielens_100k(DATA_DIR or None)
interactions = preprocess.to_implicit(ds.ratings, threshold=None)
encoded, user_map, item_map = preprocess.encode_ids(interactions)
num_users, num_items = len(user_map), len(item_map)
loo = splits.leave_one_out_split(encoded, seed=SEED)  # same-second ties in a seeded random order
train_seqs = user_sequences(loo.train, num_users, seed=SEED)
train_valid_seqs = user_sequences(pd.concat([loo.train, loo.valid]), num_users, seed=SEED)
title = ds.items.set_index(ITEM_COL).loc[item_map.to_raw, "title"].astype(str).tolist()

cfg = GPTRecConfig(num_items=num_items, max_len=MAX_LEN, emb_dim=64, num_layers=2, num_heads=2, dropout=0.2)
set_seed(SEED)
gpt = GPTRec(cfg)
n_params = sum(p.numel() for p in gpt.parameters())
lm_cfg = gpt.lm.config  # one line instead of GPT2Config's full dump
print(f"GPT-2 config: n_layer={lm_cfg.n_layer}, n_embd={lm_cfg.n_embd}, n_head={lm_cfg.n_head}, "
      f"vocab_size={lm_cfg.vocab_size} ({num_items} items + {OFFSET} special tokens), n_positions={lm_cfg.n_positions}")
print(f"GPT-rec parameters: {n_params:,} (of which item embeddings {gpt.lm.transformer.wte.weight.numel():,})")

# %%
ids, mask = lm_training_windows(train_seqs[:2], MAX_LEN)
print(f"training batch: ids {tuple(ids.shape)}, attention mask {tuple(mask.shape)}")


def decode(tokens):
    return ["<pad>" if t == 0 else "<bos>" if t == BOS_TOKEN else title[t - OFFSET][:25] for t in tokens]


print("first sentence, first 8 tokens:", ids[0, :8].tolist())
print("as titles:", decode(ids[0, :8].tolist()))
print("labels are the same tokens shifted by one: position t predicts token t+1")


# %% [raw]
# # BEGIN QUESTION
# name: q1_shift
# points: 2

# %% [markdown]
# ### Exercise 1.1 (auto-graded): inputs and labels of a causal LM
# Write `lm_pair(sequence, bos)`: the model's input is the sequence with `bos` in front and its
# last token dropped; the label at each position is the token that follows, i.e. the sequence
# itself. Return `(inputs, labels)` as lists. Why does one history of n items give n training
# examples at once?

# %% [raw]
# # BEGIN SOLUTION

# %%
def lm_pair(sequence, bos):
    # BEGIN SOLUTION
    seq = list(sequence)
    return [bos] + seq[:-1], seq
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
_x, _y = lm_pair([5, 6, 7], 1)
assert list(_x) == [1, 5, 6] and list(_y) == [5, 6, 7]

# %%
# HIDDEN
_x, _y = lm_pair([9], 0)
assert list(_x) == [0] and list(_y) == [9]
# an empty history has nothing to predict: no labels; the input may be [bos] or empty
_x, _y = lm_pair([], 0)
assert list(_y) == [] and list(_x) in ([0], [])

# %%
# HIDDEN
_x, _y = lm_pair(list(range(10, 30)), 2)
_x, _y = list(_x), list(_y)
assert _x[0] == 2 and all(_x[t + 1] == _y[t] for t in range(19)) and len(_x) == len(_y) == 20


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. Train GPT-rec, SASRec and popularity on the same split
#
# Both neural models see the same histories, the same maximum length (50), embedding size 64,
# two blocks, and the same epoch budget; the epoch with the best validation NDCG@10 is kept.
# GPT-rec uses AdamW with a linear warm-up (the *LLM4Rec pipeline* article's advice) and
# gradient clipping. One departure from stock GPT-2: item embeddings are multiplied by √64
# before the learned positions are added (as SASRec and the original Transformer do). With
# GPT-2's small initialisation the positions can otherwise drown the item signal early in
# training (set `scale_embeddings=False` in `GPTRecConfig` to check whether they do here).
#
# The SASRec here is recorded as **`sasrec-same-budget`**: GPT-rec's budget and length, not
# the early-stopped `sasrec` of notebook 03, so the two names never mix in notebook 07's
# leaderboard.

# %%
def valid_ndcg(fn_maker):
    return lambda m: validation_ndcg(fn_maker(m, train_seqs), loo.valid, exclude=[loo.train])


gpt_hist = train_gpt_rec(gpt, train_seqs, epochs=EPOCHS, lr=3e-3, warmup_steps=50, device=device, seed=SEED,
                         eval_fn=valid_ndcg(gpt_score_fn), eval_every=EVAL_EVERY, progress=False)
set_seed(SEED)
sasrec = SASRec(SASRecConfig(num_items=num_items, max_len=MAX_LEN, emb_dim=64, num_blocks=2, dropout=0.2))
sas_hist = train_sasrec(sasrec, train_seqs, epochs=EPOCHS, lr=3e-3, device=device, seed=SEED,
                        eval_fn=valid_ndcg(lambda m, s: sasrec_score_fn(m, s, device)), eval_every=EVAL_EVERY, patience=10,
                        progress=False)
print(f"GPT-rec: {gpt_hist['wall_s']:.0f} s, best epoch {gpt_hist['best_epoch']}; SASRec: {sas_hist['wall_s']:.0f} s, "
      f"best epoch {sas_hist['best_epoch']}")
for name, h in [("GPT-rec", gpt_hist), ("SASRec", sas_hist)]:
    evaluated = [epoch for epoch, _ in h["eval"]]
    if len(evaluated) < 2:
        where = "the only one evaluated: whether it was still improving is not known"
    elif h["best_epoch"] == evaluated[-1]:
        where = "the last one evaluated: still improving when the budget ended"
    else:
        where = f"before the last one evaluated ({evaluated[-1]}): it had stopped improving"
    print(f"{name}: validation NDCG@10 evaluated at epochs {evaluated}; best at epoch {h['best_epoch']}, {where}")
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(range(1, len(gpt_hist["loss"]) + 1), gpt_hist["loss"], label="GPT-rec")
ax.plot(range(1, len(sas_hist["loss"]) + 1), sas_hist["loss"], label="SASRec")
ax.set(xlabel="epoch", ylabel="training cross-entropy", title="Training loss (same data, same budget)")
ax.legend()
plt.show()

# %%
scorers = {
    "gpt-rec": gpt_score_fn(gpt, train_valid_seqs),
    "sasrec-same-budget": sasrec_score_fn(sasrec, train_valid_seqs, device),
    "popularity": popularity_scores(pd.concat([loo.train, loo.valid]), num_items),
}


def loo_metrics(fn):
    full = evaluate_full_ranking(fn, loo.test, exclude=[loo.train, loo.valid], ks=[10], metrics=["hr", "ndcg"],
                                 seed=SEED)
    sampled = evaluate_sampled(fn, loo.test, [loo.train, loo.valid, loo.test], num_items, 100, ks=[10], seed=SEED)
    return {"loo-full": full, "loo-sampled-100": sampled}


# keyed by (model, protocol): re-running a section replaces its rows instead of adding duplicates
rows = {}


def add_rows(name, fn):
    for protocol, res in loo_metrics(fn).items():
        rows[(name, protocol)] = {"model": name, "protocol": protocol, "hr@10": res["hr@10"], "ndcg@10": res["ndcg@10"]}
    return pd.DataFrame(list(rows.values()))


for name, fn in scorers.items():
    results = add_rows(name, fn)
print(results.pivot(index="model", columns="protocol", values=["hr@10", "ndcg@10"]).round(4).to_string())

# %% [markdown]
# ### Exercise 2.1 (change and measure, not auto-graded)
# List what differs between GPT-rec and SASRec as trained here: read `GPTRec` and
# `train_gpt_rec` in `llm4rec_utils/generative.py` and `SASRec` and `train_sasrec` in
# `llm4rec_utils/sequential.py` (the blocks, the loss, the optimiser and its schedule). Then
# train GPT-rec with `emb_dim=32` and with `emb_dim=128` (same epochs and seed) and set their
# test NDCG@10 and intervals beside SASRec's (`per_user_ndcg` and `bootstrap_ci` as in the
# Summary, whose `ci` dict holds SASRec's interval). Does changing the size move GPT-rec by more or
# less than its gap to SASRec, and which of the differences on your list could explain the gap?

# %%
# your code here


# %% [markdown]
# ## 3. Recommendation as generation
#
# Instead of scoring all items, let the model *write* the continuation of a user's sentence.
# Greedy decoding takes the most likely item at each step; beam search keeps the 5 most likely
# partial sequences. Items the user has seen, items already generated and the special tokens
# are never chosen, the post-processing (remove seen, de-duplicate) that the *ChatGPT-rec
# study* prescribes. The loop is `generative.generate_items`, written over the model's own
# forward pass: Hugging Face's `generate` would embed the tokens with GPT-2's own lookup and skip
# the √d scaling, i.e. run a model that was never trained. A check you can always make: the
# first greedy item must be the top item of the full ranking (seen items masked).

# %%
user = 0
history = train_valid_seqs[user]
greedy = generate_items(gpt, [history], steps=5)[0]
beam = generate_items(gpt, [history], steps=5, num_beams=5)[0]
print("last 5 watched:", [title[i] for i in history[-5:]])
print("greedy next 5:", [title[i] for i in greedy])
print("beam-5 next 5:", [title[i] for i in beam])
print("actual next (test) item:", title[int(loo.test.loc[loo.test[USER_COL] == user, ITEM_COL].iloc[0])])

# %%
check_users = np.arange(by_profile(PROFILE, smoke=20, full=200))
hists = [train_valid_seqs[u] for u in check_users]
first_greedy = np.array([g[0] for g in generate_items(gpt, hists, steps=1)])
top1 = top_k_items(gpt_score_fn(gpt, train_valid_seqs)(check_users), 1, exclude=hists, seed=SEED)[:, 0]
first_item_agrees = float((first_greedy == top1).mean())
print(f"first greedy item = top-1 of the full ranking for {first_item_agrees:.0%} of {len(check_users)} users")
assert first_item_agrees == 1.0


# %% [raw]
# # BEGIN QUESTION
# name: q3_postprocess
# points: 2

# %% [markdown]
# ### Exercise 3.1 (auto-graded): the post-processing a generated list needs
# Write `top_unseen(scores, seen, k)`: the indices of the `k` highest scores, best first,
# leaving out every index in `seen`; ties broken by the lower index. This is what removes
# watched and repeated items from a generated list.

# %% [raw]
# # BEGIN SOLUTION

# %%
def top_unseen(scores, seen, k):
    # BEGIN SOLUTION
    s = np.asarray(scores, dtype=float).copy()
    s[list(seen)] = -np.inf
    return [int(i) for i in np.argsort(-s, kind="stable")[:k]]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert top_unseen([0.1, 0.9, 0.5, 0.7], {1}, 2) == [3, 2]

# %%
# HIDDEN
assert top_unseen([1.0, 1.0, 1.0], set(), 3) == [0, 1, 2] and top_unseen([3, 2, 1], {0, 1, 2}, 0) == []

# %%
# HIDDEN
_g = np.random.default_rng(8)
_s = _g.normal(size=50)
_seen = set(_g.choice(50, 10, replace=False).tolist())
_ours = top_unseen(_s, _seen, 5)
assert not set(_ours) & _seen and _ours == sorted(set(range(50)) - _seen, key=lambda i: -_s[i])[:5]

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 4. Pre-train, then fine-tune (the *LLM4Rec pipeline* article's recipe)
#
# Cut the *training* interactions at a global time: the earlier 70% are "pre-training" data,
# the later 30% a "recent window". (a) Pre-train GPT-rec on the early sequences, then fine-tune
# it on the recent window; (b) train from scratch on the recent window only. Both are evaluated
# on the same leave-one-out test, reading each user's full history.

# %%
cut = loo.train[TIMESTAMP_COL].quantile(0.7)
early = loo.train[loo.train[TIMESTAMP_COL] <= cut]
late = loo.train[loo.train[TIMESTAMP_COL] > cut]
early_seqs, late_seqs = user_sequences(early, num_users, seed=SEED), user_sequences(late, num_users, seed=SEED)
print(f"cut at {pd.to_datetime(cut, unit='s'):%Y-%m-%d}: {len(early):,} early and {len(late):,} late training "
      f"interactions; {sum(len(s) > 0 for s in late_seqs)} users active in the late window")
set_seed(SEED)
pre = GPTRec(cfg)
pre_hist = train_gpt_rec(pre, early_seqs, epochs=EPOCHS_SMALL, lr=3e-3, device=device, seed=SEED, progress=False)
ft_hist = train_gpt_rec(pre, late_seqs, epochs=EPOCHS_SMALL, lr=1e-3, warmup_steps=10, device=device, seed=SEED,
                        eval_fn=valid_ndcg(gpt_score_fn), eval_every=EVAL_EVERY, progress=False)
set_seed(SEED)
scratch = GPTRec(cfg)
scratch_hist = train_gpt_rec(scratch, late_seqs, epochs=EPOCHS_SMALL, lr=3e-3, device=device, seed=SEED,
                             eval_fn=valid_ndcg(gpt_score_fn), eval_every=EVAL_EVERY, progress=False)
for name, model in [("gpt-rec-pretrained-finetuned", pre), ("gpt-rec-scratch-window", scratch)]:
    results = add_rows(name, gpt_score_fn(model, train_valid_seqs))
print(results[results.model.str.contains("window|finetuned")].round(4).to_string(index=False))
print(f"wall time: pre-train {pre_hist['wall_s']:.0f} s + fine-tune {ft_hist['wall_s']:.0f} s; scratch {scratch_hist['wall_s']:.0f} s")

# %% [markdown]
# ### Exercise 4.1 (change and measure, not auto-graded)
# Make the recent window shorter: in the first code cell of this section, change
# `cut = loo.train[TIMESTAMP_COL].quantile(0.7)` to `quantile(0.9)`, so pre-training sees the
# earlier 90% of the training interactions and the window the latest 10%. Re-run that cell
# (its two models and their rows are replaced), then every cell from section 7 to the Summary,
# which recompute the intervals and the claims.
# Does pre-training help more or less when the fine-tuning window is short? Explain with the
# interval of the paired difference on the Summary's "pre-training then fine-tuning beats
# training on the recent window alone" line, before and after the change.

# %%
# your code here


# %% [markdown]
# ## 5. A small scaling sweep
#
# Three sizes from the `sizes` list, the same data and epoch budget, each trained with every
# seed in `SWEEP_SEEDS` (the points are seed means, the bars the range over seeds; the quality
# axis starts at zero). On the CPU profiles only the width (`emb_dim`) changes and every model
# has one layer; the gpu profile also adds layers. The table prints each size's parameter
# count and the share of it that is the item-embedding table. The spread between seeds also
# tells how much a single training run of this size can move by chance.

# %%
sizes = by_profile(PROFILE, smoke=[(32, 1)], full=[(32, 1), (64, 1), (128, 1)], gpu=[(32, 1), (64, 2), (128, 4)])
scaling, sweep_per_user = [], {}  # sweep_per_user[size] = [per-user table of each seed]
for emb_dim, layers in sizes:
    size = f"d{emb_dim}-l{layers}"
    for sweep_seed in SWEEP_SEEDS:
        set_seed(sweep_seed)
        m = GPTRec(GPTRecConfig(num_items=num_items, max_len=MAX_LEN, emb_dim=emb_dim, num_layers=layers, num_heads=2, dropout=0.2))
        h = train_gpt_rec(m, train_seqs, epochs=EPOCHS_SMALL, lr=3e-3, device=device, seed=sweep_seed,
                          eval_fn=valid_ndcg(gpt_score_fn), eval_every=EVAL_EVERY, progress=False)
        res, pu = evaluate_full_ranking(gpt_score_fn(m, train_valid_seqs), loo.test, exclude=[loo.train, loo.valid],
                                        ks=[10], metrics=["hr", "ndcg"], return_per_user=True, seed=SEED)
        sweep_per_user.setdefault(size, []).append(pu)
        scaling.append({"size": size, "seed": sweep_seed, "params": sum(p.numel() for p in m.parameters()),
                        "item_emb_share": m.lm.transformer.wte.weight.numel() / sum(p.numel() for p in m.parameters()),
                        "ndcg@10": res["ndcg@10"], "train_s": h["wall_s"]})
scaling_runs = pd.DataFrame(scaling)
scaling = scaling_runs.groupby("size", sort=False).agg(
    params=("params", "first"), item_emb_share=("item_emb_share", "first"), ndcg_min=("ndcg@10", "min"), ndcg_max=("ndcg@10", "max"),
    train_s=("train_s", "mean"), **{"ndcg@10": ("ndcg@10", "mean")}).reset_index()
fig, ax = plt.subplots(1, 2, figsize=(12, 3.5))
ax[0].errorbar(scaling["params"], scaling["ndcg@10"], yerr=[scaling["ndcg@10"] - scaling["ndcg_min"],
               scaling["ndcg_max"] - scaling["ndcg@10"]], fmt="o-", capsize=3)
ax[0].set(xscale="log", xlabel="parameters (log)", ylabel="NDCG@10 (loo-full)", ylim=(0, None),
          title=f"Quality vs size ({EPOCHS_SMALL} epochs; mean and range of {len(SWEEP_SEEDS)} seeds)")
ax[1].plot(scaling["params"], scaling["train_s"], "o-", color="C1")
ax[1].set(xscale="log", xlabel="parameters (log)", ylabel="training time (s)", title="Cost vs size")
for a in ax:
    for _, r in scaling.iterrows():
        a.annotate(r["size"], (r["params"], r["ndcg@10"] if a is ax[0] else r["train_s"]))
plt.tight_layout()
plt.show()
print(scaling.round(4).to_string(index=False))

# %% [markdown]
# ### Exercise 5.1 (change and measure, not auto-graded)
# Add a point to the sweep with 4 layers: insert `(64, 4)` into the `full` list of `sizes` above,
# between `(64, 1)` and `(128, 1)` (the list is kept in order of parameter count: the chart joins
# the points in list order and the Summary takes the last size as the largest), and re-run the
# sweep cell. Read its quality-vs-size chart: how does the curve change with the new point, and
# what would you need to know before calling it a scaling law?

# %%
# your code here


# %% [markdown]
# ## 6. Item text inside the item token
#
# Each item's text (title, year, genres) is tokenised with the encoder's tokenizer and its word
# embeddings are mean-pooled into one vector; a learned projection of it is added to the item's
# own embedding. The projection starts at zero, so training begins at plain GPT-rec and learns
# how much of the text to use; a rarely watched film gets few updates of its own embedding, so
# it is where the shared text projection could matter most. We compare overall and on test
# users whose target item is rare in training (≤ 20 interactions).

# %%
from transformers import AutoModel, AutoTokenizer

from llm4rec_utils.progress import no_loading_bars

path = embeddings.resolve_base_model(BASE_MODEL)
tok = AutoTokenizer.from_pretrained(path)
with no_loading_bars():  # a local model loads in a second: its "Loading weights" bar is noise
    word_emb = AutoModel.from_pretrained(path).get_input_embeddings().weight.detach()
texts = preprocess.item_text(ds.items.set_index(ITEM_COL).loc[item_map.to_raw].reset_index()).tolist()
batch = tok(texts, padding=True, add_special_tokens=False, return_tensors="pt")
text_vecs = embeddings.mean_pool(word_emb[batch["input_ids"]], batch["attention_mask"]).numpy()
print(f"item text vectors: {text_vecs.shape}; e.g. {tok.convert_ids_to_tokens(batch['input_ids'][0][:8])}")
set_seed(SEED)
gpt_text = GPTRec(GPTRecConfig(**{**cfg.__dict__, "text_dim": text_vecs.shape[1]}), text_vecs)
text_hist = train_gpt_rec(gpt_text, train_seqs, epochs=EPOCHS, lr=3e-3, device=device, seed=SEED,
                          eval_fn=valid_ndcg(gpt_score_fn), eval_every=EVAL_EVERY, progress=False)
results = add_rows("gpt-rec-text", gpt_score_fn(gpt_text, train_valid_seqs))

counts = np.bincount(loo.train[ITEM_COL], minlength=num_items)
rare_test = loo.test[counts[loo.test[ITEM_COL].to_numpy()] <= 20]
rare, rare_per_user = {}, {}
for name, model in [("gpt-rec", gpt), ("gpt-rec-text", gpt_text)]:
    rare[name], rare_per_user[name] = evaluate_full_ranking(
        gpt_score_fn(model, train_valid_seqs), rare_test, exclude=[loo.train, loo.valid], ks=[10],
        metrics=["hr", "ndcg"], seed=SEED, return_per_user=True)
print(f"{len(rare_test)} test users whose target has <= 20 training interactions:")
print(pd.DataFrame(rare).T[["hr@10", "ndcg@10"]].round(4).to_string())

# %% [markdown]
# ### Exercise 6.1 (explain, not auto-graded)
# Print the five nearest neighbours of one film by its text vector (`text_vecs`, what the model
# could draw on) and by its input embedding in the trained `gpt_text` (`gpt_text._embeds` of the
# item tokens, i.e. item index + `OFFSET`; the text projection starts at zero, so before
# training the text adds nothing and the text vector is the "before" to compare with). Which
# neighbours did training replace, and what do the new ones share?

# %%
# your code here


# %% [markdown]
# ## 7. One table, one chart

# %%
table = results.pivot(index="model", columns="protocol", values="ndcg@10")
ax = table.sort_values("loo-full").plot.barh(figsize=(9, 4))
ax.set(xlabel="NDCG@10", title="Leave-one-out by time: full ranking vs 100 sampled negatives")
plt.show()
print(results.round(4).to_string(index=False))
ratio_sas = table.loc["gpt-rec", "loo-full"] / table.loc["sasrec-same-budget", "loo-full"]
ratio_pop = table.loc["gpt-rec", "loo-full"] / table.loc["popularity", "loo-full"]
print(f"GPT-rec / SASRec NDCG@10 (loo-full): {ratio_sas:.2f}; GPT-rec / popularity: {ratio_pop:.1f}x")

# %% [markdown]
# ### Exercise 7.1 (explain the number, not auto-graded)
# Which model in the table would you deploy for a catalogue that changes every day, and
# which for one that never changes? Use the table's numbers and one property of each model that
# the table does not show.

# %% [markdown]
# ## 8. Record the numbers

# %%
for r in results.itertuples():
    record(r.model, r.protocol, "hr@10", r._3)
    record(r.model, r.protocol, "ndcg@10", r._4)
record("gpt-rec", "loo-full", "params", n_params)
record("gpt-rec", "loo-full", "train_wall_s", gpt_hist["wall_s"], epochs=EPOCHS)
record("sasrec-same-budget", "loo-full", "train_wall_s", sas_hist["wall_s"], epochs=EPOCHS)
record("gpt-rec", "generation", "first_item_agrees", first_item_agrees, users=len(check_users))
for _, r in scaling.iterrows():
    record(f"gpt-rec-{r['size']}", "loo-full", "ndcg@10", r["ndcg@10"], size=r["size"], params=int(r["params"]),
           train_s=r["train_s"])
for name, res in rare.items():
    record(name, "loo-full-rare-items", "hr@10", res["hr@10"], users=res["users"])


# %% [markdown]
# ## Summary
#
# Printed from this run: the recorded numbers, then one line per claim with its verdict
# (claims of the source articles: [docs/claims.md](../docs/claims.md)).

# %%
def per_user_ndcg(fn):
    return evaluate_full_ranking(fn, loo.test, exclude=[loo.train, loo.valid], ks=[10], metrics=["ndcg"],
                                 return_per_user=True, seed=SEED)[1]["ndcg@10"]


models = {"gpt-rec": gpt, "gpt-rec-pretrained-finetuned": pre, "gpt-rec-scratch-window": scratch}
ndcg = {name: per_user_ndcg(gpt_score_fn(m, train_valid_seqs)) for name, m in models.items()}
ndcg["sasrec-same-budget"] = per_user_ndcg(scorers["sasrec-same-budget"])
ndcg["popularity"] = per_user_ndcg(scorers["popularity"])
ci = {name: bootstrap_ci(v, n_boot=2000, seed=SEED) for name, v in ndcg.items()}
for name, (lo, hi) in ci.items():
    record(name, "loo-full", "ndcg@10_ci_low", lo)
    record(name, "loo-full", "ndcg@10_ci_high", hi)

# %% [markdown]
# The claims, decided by the package's verdict engine, each comparing two models on the same
# test users (paired bootstrap of the per-user difference). The model-size claim uses the
# sweep's seeds. The other training-recipe claims rest on one training run each, so a verdict
# is only given when the effect is larger than √2 × the between-seed standard deviation of the
# sweep's d64 model on the same metric (two runs, each with that much chance variation).

# %%
judge_here = partial(judge, results_path=RESULTS_PATH)
ref_size = "d64-l1" if "d64-l1" in sweep_per_user else scaling["size"].iloc[0]


def seed_floor(metric_of):
    """√2 × the between-seed std of ``metric_of(per-user table)`` for the reference sweep size."""
    values = [metric_of(t) for t in sweep_per_user[ref_size]]
    return float(np.sqrt(2) * np.std(values, ddof=1)) if len(values) > 1 else None


floor_ndcg = seed_floor(lambda t: t["ndcg@10"].mean())
floor_rare = seed_floor(lambda t: t.loc[t.index.isin(rare_test[USER_COL]), "hr@10"].mean())
print(f"seed floor (NDCG@10, {ref_size}): {fmt(floor_ndcg)}; on rare-target users (HR@10): {fmt(floor_rare)}")
# %%
judge_here("gptrec-beats-popularity", V.paired_diff(ndcg["gpt-rec"], ndcg["popularity"], seed=SEED,
                                                   test="GPT-rec − popularity, NDCG@10"))
judge_here("gptrec-noninferior-sasrec", V.paired_diff(ndcg["gpt-rec"], ndcg["sasrec-same-budget"], seed=SEED,
                                                     test="GPT-rec − SASRec (same budget), NDCG@10"), seed_floor=floor_ndcg)
judge_here("pretraining-helps-window", V.paired_diff(
    ndcg["gpt-rec-pretrained-finetuned"], ndcg["gpt-rec-scratch-window"], seed=SEED,
    test="pre-trained + fine-tuned − trained on the recent window only, NDCG@10"), seed_floor=floor_ndcg)
judge_here("pretraining-beats-all-data", V.paired_diff(
    ndcg["gpt-rec-pretrained-finetuned"], ndcg["gpt-rec"], seed=SEED,
    test="pre-trained + fine-tuned − GPT-rec trained on all the training data, NDCG@10"), seed_floor=floor_ndcg)
judge_here("greedy-equals-top", V.equals(first_item_agrees, 1.0, "share of users whose first generated item is the top-ranked one",
                                         units=len(check_users)))
largest, smallest = scaling["size"].iloc[-1], scaling["size"].iloc[0]
judge_here("larger-gptrec-better", V.paired_diff(
    np.stack([t["ndcg@10"] for t in sweep_per_user[largest]]), np.stack([t["ndcg@10"] for t in sweep_per_user[smallest]]),
    seed=SEED, test=f"{largest} − {smallest}, NDCG@10, bootstrap over users and seeds"), seed_floor=floor_ndcg)
_ = judge_here("item-text-helps-rare", V.paired_diff(
    rare_per_user["gpt-rec-text"]["hr@10"], rare_per_user["gpt-rec"]["hr@10"], seed=SEED,
    test=f"GPT-rec with text − without, HR@10 on {len(rare_test)} rare-target users"), seed_floor=floor_rare)

# %%
inflation_ev = {}
for name, fn in [*((n, gpt_score_fn(m, train_valid_seqs)) for n, m in models.items()),
                 ("sasrec-same-budget", scorers["sasrec-same-budget"]), ("popularity", scorers["popularity"])]:
    pairs = evaluate_sampled(fn, loo.test, [loo.train, loo.valid, loo.test], num_items, 100, ks=[10], seed=SEED,
                             return_per_pair=True)[1].set_index(USER_COL).reindex(ndcg[name].index)
    inflation_ev[name] = V.paired_diff(pairs["ndcg@10"], ndcg[name], seed=SEED, test=f"{name}: sampled − full NDCG@10")
weakest = min(inflation_ev, key=lambda n: inflation_ev[n].ci_low)
_ = judge_here("sampled-inflates-ndcg-05", inflation_ev[weakest], note="the model whose inflation is least certain")

# %% tags=["summary"]
print(notebook_table(RESULTS_PATH, NOTEBOOK, metrics=["hr@10", "ndcg@10"]).to_string(), "\n")
print("model sizes (mean NDCG@10 over seeds): " + ", ".join(
    f"{s} {fmt(v)}" for s, v in zip(scaling["size"], scaling["ndcg@10"], strict=True)))
print(claim_lines(RESULTS_PATH, NOTEBOOK[:2]))
print()
print(recap([
    "viewing histories as sentences of item tokens, and the causal language-model loss",
    "recommendation as next-token scoring over the whole catalogue and as greedy or beam generation",
    "pre-training on older behaviour, then fine-tuning on a recent window, against training on the window alone",
    "a small scaling sweep over model sizes, with the spread between training seeds",
    "item text injected into the item tokens, measured on rarely seen target items",
]))


if PROFILE == "full":  # robust directions
    assert first_item_agrees == 1.0


# %% [markdown] tags=["exercises"]
# ## Exercises
# 1. Generate 10 items with beam search for 100 users and compute HR@10 of the generated lists.
#    How does it compare with the full-ranking HR@10, and why?
# 2. Add a special token per user-age group at the start of each sentence. Does it help?
# 3. Add a deeper model to the sweep: append `(128, 2)` to the `full` list of `sizes` in
#    section 5 (it then trains as `d128-l2`), and train it once more with
#    `epochs=4 * EPOCHS_SMALL`. Does the scaling curve change shape with depth, and with budget?

# %% [markdown] tags=["references"]
# ## References
# - A. Radford et al. Language Models are Unsupervised Multitask Learners (GPT-2). 2019.
# - W.-C. Kang and J. McAuley. Self-Attentive Sequential Recommendation. *ICDM* 2018.
# - S. Geng et al. Recommendation as Language Processing (P5). *RecSys* 2022.
# - W. Krichene and S. Rendle. On Sampled Metrics for Item Recommendation. *KDD* 2020.
