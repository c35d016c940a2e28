import math

import numpy as np
import pytest
import torch
from torch import nn

from llm4rec_utils.attention import (
    Dropout,
    MultiHeadSelfAttention,
    TransformerBlock,
    attention_np,
    causal_mask,
    sinusoidal_positions,
    softmax_np,
)


def test_softmax_by_hand():
    w = softmax_np(np.array([0.0, math.log(3.0)]))
    assert w == pytest.approx([0.25, 0.75])
    # a softmax over a single score is always [1.0], whatever the score
    assert softmax_np(np.array([-1.0])) == pytest.approx([1.0])


def test_attention_np_by_hand():
    q = np.array([[1.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0]])
    v = np.array([[10.0], [20.0]])
    out, w = attention_np(q, k, v)
    e = math.exp(1 / math.sqrt(2))
    assert w[0] == pytest.approx([e / (e + 1), 1 / (e + 1)])
    assert out[0, 0] == pytest.approx(10 * w[0, 0] + 20 * w[0, 1])
    _, wm = attention_np(q, k, v, mask=np.array([[False, True]]))
    assert wm[0] == pytest.approx([0.0, 1.0])


def test_attention_np_matches_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 4))
    ours, _ = attention_np(q, k, v, mask=causal_mask(5).numpy())
    ref = nn.functional.scaled_dot_product_attention(
        *(torch.tensor(x)[None] for x in (q, k, v)), is_causal=True
    )[0].numpy()
    assert np.abs(ours - ref).max() < 1e-10


@pytest.mark.parametrize("norm_first", [False, True])
def test_block_matches_torch_encoder_layer(norm_first):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, batch_first=True, norm_first=norm_first
    )
    ours = TransformerBlock(16, 4, 32, dropout=0.0, norm_first=norm_first).load_from_torch(ref)
    ref.eval(), ours.eval()
    x = torch.randn(3, 7, 16)
    mask = causal_mask(7)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[0, :2] = True  # left padding of the first sequence
    with torch.no_grad():
        # torch's boolean masks mean the opposite: True = *not* allowed
        expected = ref(x, src_mask=~mask, src_key_padding_mask=pad)
        got = ours(x, attn_mask=mask, key_padding_mask=pad)
    keep = ~pad  # rows of padding queries are undefined in torch's fast path
    assert torch.allclose(got[keep], expected[keep], atol=1e-5)


def test_multi_head_rejects_bad_sizes():
    with pytest.raises(ValueError, match="not divisible"):
        MultiHeadSelfAttention(10, 3)


def test_sinusoidal_positions():
    pe = sinusoidal_positions(4, 6)
    assert pe.shape == (4, 6)
    assert pe[0, 0::2].abs().max() == 0 and torch.allclose(pe[0, 1::2], torch.ones(3))
    assert pe[1, 0] == pytest.approx(math.sin(1.0))


def test_dropout_keeps_the_expectation_and_is_the_identity_in_eval():
    torch.manual_seed(0)
    x = torch.ones(200_000)
    drop = Dropout(0.3)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.3) < 0.01  # zeroed with probability p
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))  # the rest scaled
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x) and not Dropout(1.0)(x).any()
    g = torch.ones(10, requires_grad=True)
    out = Dropout(0.5)(g)
    out.sum().backward()
    assert torch.equal(g.grad, out.detach())  # the gradient flows through the kept elements
