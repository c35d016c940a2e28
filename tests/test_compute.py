import numpy as np
import pytest
import torch
from torch import nn

from llm4rec_utils.compress import MLPStudent, distill, quantize_int8, serialized_mb
from llm4rec_utils.compute import (
    cost_per_million,
    count_flops,
    measure_latency,
    pareto_front,
    peak_memory_mb,
)


def test_count_flops_of_a_linear_layer():
    layer = nn.Linear(8, 4, bias=False)
    x = torch.randn(3, 8)
    assert count_flops(lambda: layer(x)) == 2 * 3 * 8 * 4  # 2·M·N·K


def test_latency_and_memory_are_measured():
    x = torch.randn(64, 64)
    assert measure_latency(lambda: x @ x, repeats=3) > 0
    with pytest.raises(ValueError, match="repeats"):
        measure_latency(lambda: None, repeats=0)
    # allocating and touching 200 MB shows up in the sampled resident set size
    mb = peak_memory_mb(lambda: torch.ones(50 * 2**20, dtype=torch.float32).sum())
    assert mb > 100


def test_cost_per_million():
    # 1,000 items/s on a 3.60/hour machine: 1e6 items take 1,000 s = 1/3.6 h -> 1.00
    assert cost_per_million(1000.0, 3.6) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="throughput"):
        cost_per_million(0.0, 1.0)


def test_pareto_front():
    cost = [1.0, 2.0, 3.0, 2.0]
    quality = [0.5, 0.7, 0.6, 0.4]
    # (3, 0.6) is beaten by (2, 0.7); (2, 0.4) by (1, 0.5)
    assert pareto_front(cost, quality).tolist() == [True, True, False, False]
    with pytest.raises(ValueError):
        pareto_front([1.0], [1.0, 2.0])


def test_quantize_int8_keeps_outputs_close_and_shrinks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    q = quantize_int8(model)
    x = torch.randn(32, 256)
    with torch.no_grad():
        ref, out = model(x), q(x)
    assert torch.allclose(ref, out, atol=0.05)
    assert serialized_mb(q) < serialized_mb(model) / 2.5
    assert isinstance(model[0], nn.Linear)  # the original is untouched


def test_distill_fits_teacher():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 5, 512)
    feats = rng.normal(size=(512, 2)).astype(np.float32)
    teacher = 2.0 * feats[:, 0] - feats[:, 1] + 0.5 * items  # learnable from the inputs
    student = MLPStudent(num_items=5, n_features=2, emb_dim=4, hidden=16)
    hist = distill(student, items, feats, teacher, epochs=60, lr=1e-2, progress=False)
    assert hist["loss"][-1] < 0.05 * hist["loss"][0]
    with pytest.raises(ValueError, match="equally long"):
        distill(student, items[:3], feats, teacher)


# ---- FLOP counts against hand formulas on tiny configs (2·M·N·K per product) ----------------


def _attention_block_flops(batch, length, d, d_ff):
    """One transformer block: Q, K, V and output projections, QK^T and weights·V (all heads
    together: 2·B·L·L·d each), and the two feed-forward products."""
    return 4 * 2 * batch * length * d * d + 2 * 2 * batch * length * length * d + (
        2 * 2 * batch * length * d * d_ff
    )


def test_flops_of_a_cross_encoder_include_attention():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16, num_labels=1,
    )
    model = BertForSequenceClassification(cfg).eval()
    batch, length = 3, 7
    ids = torch.randint(1, 50, (batch, length))
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0  # padding does not change the products computed
    counted = count_flops(lambda: model(input_ids=ids, attention_mask=mask))
    hand = 2 * _attention_block_flops(batch, length, 8, 16)
    hand += 2 * batch * 8 * 8 + 2 * batch * 8 * 1  # pooler on [CLS] and the output layer
    assert counted == hand


def test_flops_of_gpt_rec_score_only_the_last_position():
    from llm4rec_utils.generative import GPTRec, GPTRecConfig

    cfg = GPTRecConfig(num_items=40, max_len=5, emb_dim=8, num_layers=2, num_heads=2)
    model = GPTRec(cfg).eval()
    hists = [np.array([1, 2, 3]), np.array([4, 5, 6, 7, 8, 9])]
    counted = count_flops(lambda: model.score(hists))
    batch, length = 2, cfg.max_len + 1  # BOS + max_len items, left-padded
    hand = 2 * _attention_block_flops(batch, length, 8, 4 * 8)
    hand += 2 * batch * 8 * (40 + 2)  # last position only, onto the vocabulary
    assert counted == hand


def test_flops_of_sasrec_score():
    from llm4rec_utils.sequential import SASRec, SASRecConfig

    cfg = SASRecConfig(num_items=40, max_len=6, emb_dim=8, num_heads=2, num_blocks=2, d_ff=12)
    model = SASRec(cfg).eval()
    seq = torch.randint(1, 41, (3, 6))
    counted = count_flops(lambda: model.score(seq))
    hand = 2 * _attention_block_flops(3, 6, 8, 12) + 2 * 3 * 8 * 40
    assert counted == hand


def test_prune_linear_unstructured_removes_the_smallest_weights():
    from llm4rec_utils.compress import linear_sparsity, prune_linear

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    pruned = prune_linear(model, 0.5)
    w, w0 = pruned[0].weight, model[0].weight
    assert linear_sparsity(pruned) == 0.5 and linear_sparsity(model) == 0.0  # original untouched
    assert w0[w == 0].abs().max() <= w0[w != 0].abs().min()  # the zeros were the smallest |w|
    assert torch.equal(pruned[2].weight, model[2].weight)  # the one-output head is left alone
    assert not hasattr(pruned[0], "weight_orig")  # made permanent: a plain module again
    assert pruned(torch.randn(3, 8)).shape == (3, 1)


def test_prune_linear_structured_zeroes_whole_rows():
    from llm4rec_utils.compress import linear_sparsity, prune_linear

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 10), nn.Linear(10, 1))
    pruned = prune_linear(model, 0.3, structured=True)
    dead = (pruned[0].weight == 0).all(dim=1)
    assert int(dead.sum()) == 3 and linear_sparsity(pruned) == pytest.approx(0.3)
    norms = model[0].weight.norm(dim=1)
    assert norms[dead].max() <= norms[~dead].min()
    with pytest.raises(ValueError, match="share"):
        prune_linear(model, 1.0)
