import numpy as np
import pytest
import torch

from llm4rec_utils.generative import (
    BOS_TOKEN,
    OFFSET,
    GPTRec,
    GPTRecConfig,
    gpt_score_fn,
    left_padded_prompts,
    lm_training_windows,
    train_gpt_rec,
)


def test_windows_and_prompts_layout():
    ids, mask = lm_training_windows([np.arange(5)], max_len=3)
    assert ids.tolist() == [
        [BOS_TOKEN, 2 + OFFSET, 3 + OFFSET, 4 + OFFSET],
        [BOS_TOKEN, 0 + OFFSET, 1 + OFFSET, 0],
    ]
    assert mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    ids, mask = left_padded_prompts([np.array([7])], max_len=3)
    assert ids.tolist() == [[0, 0, BOS_TOKEN, 7 + OFFSET]] and mask.tolist() == [[0, 0, 1, 1]]


def test_left_padding_does_not_change_the_prediction():
    torch.manual_seed(0)
    model = GPTRec(
        GPTRecConfig(num_items=10, max_len=6, emb_dim=16, num_layers=1, dropout=0.0)
    ).eval()
    short = model.score([np.array([1, 2])])
    both = model.score([np.array([1, 2]), np.array([3, 4, 5, 6, 7])])
    assert np.allclose(short[0], both[0], atol=1e-5)


def test_gpt_rec_learns_a_cycle_and_text_variant_checks_shapes():
    seqs = [np.array([(s + t) % 5 for t in range(15)]) for s in range(5)]
    model = GPTRec(GPTRecConfig(num_items=5, max_len=8, emb_dim=16, num_layers=1, dropout=0.0))
    hist = train_gpt_rec(
        model, seqs, epochs=60, batch_size=8, lr=1e-2, warmup_steps=5, progress=False
    )
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    scores = gpt_score_fn(model, [np.array([0, 1, 2])])(np.array([0]))
    assert scores.shape == (1, 5) and scores[0].argmax() == 3
    with pytest.raises(ValueError, match="text_vectors"):
        GPTRec(GPTRecConfig(num_items=5, text_dim=4), np.zeros((3, 4)))
    text = GPTRec(
        GPTRecConfig(num_items=5, max_len=8, emb_dim=16, num_layers=1, text_dim=4), np.ones((5, 4))
    )
    assert text.score([np.array([0, 1])]).shape == (1, 5)
