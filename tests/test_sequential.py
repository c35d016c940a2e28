import numpy as np
import pandas as pd
import torch

from llm4rec_utils.collaborative import popularity_scores
from llm4rec_utils.sequential import (
    SASRec,
    SASRecConfig,
    history_mask,
    left_pad,
    next_items,
    train_sasrec,
    training_windows,
    user_sequences,
)


def test_user_sequences_time_order_with_tie_break():
    df = pd.DataFrame({"user_id": [0, 0, 0, 1], "item_id": [5, 2, 3, 1], "timestamp": [2, 1, 2, 9]})
    orders = set()
    for seed in range(10):
        seqs = user_sequences(df, 3, seed=seed)
        assert seqs[0][0] == 2 and sorted(seqs[0][1:]) == [3, 5]  # time first, then the tie
        assert seqs[1].tolist() == [1] and len(seqs[2]) == 0
        orders.add(tuple(seqs[0]))
    assert len(orders) == 2  # the seed, not the item index, orders the tied pair


def test_left_pad_and_windows_cover_every_target_once():
    assert left_pad([np.array([0, 1]), np.array([4, 5, 6])], 2).tolist() == [[1, 2], [6, 7]]
    ins, outs = training_windows([np.arange(7)], 3)
    targets = sorted(t - 1 for t in outs.ravel() if t)
    assert targets == [1, 2, 3, 4, 5, 6]
    # every target's input is the item just before it
    for i, o in zip(ins.ravel(), outs.ravel(), strict=True):
        if o:
            assert o == i + 1


def test_sasrec_is_causal_and_learns_a_cycle():
    torch.manual_seed(0)
    cfg = SASRecConfig(num_items=6, max_len=5, emb_dim=16, num_heads=2, num_blocks=1, dropout=0.0)
    model = SASRec(cfg)
    seq = torch.tensor([[1, 2, 3, 4, 5]])
    h1 = model(seq)
    seq2 = seq.clone()
    seq2[0, -1] = 6
    h2 = model(seq2)
    assert torch.allclose(h1[0, :-1], h2[0, :-1], atol=1e-6), "a position saw the future"
    # items cycle 0 -> 1 -> ... -> 5 -> 0: the model must learn the successor
    seqs = [np.array([(s + t) % 6 for t in range(12)]) for s in range(6)]
    hist = train_sasrec(model, seqs, epochs=60, batch_size=8, lr=1e-2, progress=False)
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]
    nxt = model.score(torch.tensor([[1, 2, 3]])).argmax().item()  # items 0, 1, 2 -> next is 3
    assert nxt == 3


def test_popularity_scores_are_training_counts():
    train = pd.DataFrame({"user_id": [0, 1, 1], "item_id": [2, 2, 0]})
    scores = popularity_scores(train, 4)(np.array([0, 1]))
    assert scores.tolist() == [[1, 0, 2, 0], [1, 0, 2, 0]]


def test_overlapping_windows_train_each_target_once_with_longer_context():
    seq = np.arange(20)
    for stride in [1, 2, 5]:
        ins, outs = training_windows([seq], 5, stride)
        targets = sorted(t - 1 for t in outs.ravel() if t)
        assert targets == list(range(1, 20)), stride
        for row_in, row_out in zip(ins, outs, strict=True):
            for p, t in enumerate(row_out):
                if t:
                    assert row_in[p] == t - 1  # the input just before a target is its predecessor
                    if t - 1 >= 5:  # outside the earliest window: at least 5 - stride of context
                        assert (row_in[: p + 1] > 0).sum() >= 5 - stride


def test_warmup_and_clipping_path_trains():
    torch.manual_seed(0)
    cfg = SASRecConfig(num_items=6, max_len=5, emb_dim=16, num_heads=2, num_blocks=1, dropout=0.0)
    model = SASRec(cfg)
    seqs = [np.array([(s + t) % 6 for t in range(12)]) for s in range(6)]
    hist = train_sasrec(
        model,
        seqs,
        epochs=30,
        batch_size=8,
        lr=1e-2,
        warmup_steps=10,
        clip_norm=0.5,
        progress=False,
    )
    assert np.isfinite(hist["loss"]).all() and hist["loss"][-1] < 0.5 * hist["loss"][0]


def test_trimmed_batch_uses_the_same_positions_as_full_width():
    torch.manual_seed(0)
    cfg = SASRecConfig(num_items=9, max_len=6, emb_dim=8, num_heads=2, num_blocks=2, dropout=0.0)
    model = SASRec(cfg).eval()
    full = torch.tensor([[0, 0, 0, 3, 1, 7], [0, 0, 2, 4, 6, 8]])
    with torch.no_grad():
        h_full, h_trim = model(full), model(full[:, -4:])
    assert torch.allclose(h_full[:, -4:][full[:, -4:] > 0], h_trim[full[:, -4:] > 0], atol=1e-5)
    try:
        model(torch.ones(1, 7, dtype=torch.long))
    except ValueError as err:
        assert "max_len" in str(err)
    else:
        raise AssertionError("a sequence longer than max_len was accepted")


def test_history_mask_hides_seen_items_but_not_the_target():
    seq = torch.tensor([[0, 3, 1, 2], [5, 4, 3, 2]])  # shifted: 0 is padding
    target = torch.tensor([[0, 1, 2, 4], [4, 3, 2, 3]])  # last row repeats item 3 (index 2)
    keep = target != 0
    mask = history_mask(seq, keep, target[keep][:, None], num_items=5)
    seen = [[3], [3, 1], [3, 1, 2], [5], [5, 4], [5, 4, 3], [5, 4, 3, 2]]
    targets = target[keep].tolist()
    for row, items, t in zip(mask.tolist(), seen, targets, strict=True):
        expected = [(i + 1) in items and (i + 1) != t for i in range(5)]
        assert row == expected


def test_item_bias_history_mask_and_future_items_train():
    torch.manual_seed(0)
    cfg = SASRecConfig(
        num_items=6,
        max_len=5,
        emb_dim=16,
        num_heads=2,
        num_blocks=1,
        dropout=0.0,
        item_bias=True,
        mask_history=True,
        future_items=2,
    )
    model = SASRec(cfg)
    seqs = [np.array([(s + t) % 6 for t in range(5)]) for s in range(6)]
    hist = train_sasrec(model, seqs, epochs=40, batch_size=4, lr=1e-2, progress=False)
    assert np.isfinite(hist["loss"]).all() and hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert model.bias is not None and model.bias.abs().sum() > 0


def test_next_items_shifts_and_pads():
    target = torch.tensor([[0, 3, 1, 2]])
    assert next_items(target, 1)[..., 0].tolist() == target.tolist()
    assert next_items(target, 3).tolist() == [[[0, 3, 1], [3, 1, 2], [1, 2, 0], [2, 0, 0]]]
    try:
        next_items(target, 0)
    except ValueError as err:
        assert "future_items" in str(err)
    else:
        raise AssertionError("future_items=0 was accepted")


def test_future_items_loss_is_the_weighted_cross_entropy_of_later_items():
    torch.manual_seed(0)
    seq = torch.tensor([[0, 3, 1, 2], [5, 4, 3, 2]])
    target = torch.tensor([[0, 1, 2, 4], [4, 3, 2, 1]])
    base = dict(num_items=5, max_len=4, emb_dim=8, num_heads=2, num_blocks=1, dropout=0.0)
    one = SASRec(SASRecConfig(**base)).eval()
    three = SASRec(SASRecConfig(**base, future_items=3, future_decay=0.5)).eval()
    three.load_state_dict(one.state_dict())
    logp = torch.log_softmax(one.logits(one(seq)), -1)  # (B, L, num_items)
    plain = -torch.stack(
        [logp[b, t, target[b, t] - 1] for b in range(2) for t in range(4) if target[b, t]]
    ).mean()
    assert torch.allclose(one.loss(seq, target), plain, atol=1e-6)
    per_position = []
    for b in range(2):
        for t in range(4):
            if not target[b, t]:
                continue
            later = [(0.5**j, target[b, t + j]) for j in range(3) if t + j < 4]
            total = sum(w * -logp[b, t, i - 1] for w, i in later)
            per_position.append(total / sum(w for w, _ in later))
    assert torch.allclose(three.loss(seq, target), torch.stack(per_position).mean(), atol=1e-6)
