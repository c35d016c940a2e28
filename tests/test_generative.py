import numpy as np
import pytest
import torch

from llm4rec_utils.generative import (
    BOS_TOKEN,
    OFFSET,
    GPTRec,
    GPTRecConfig,
    generate_items,
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


def _random_model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = GPTRecConfig(num_items=30, max_len=6, emb_dim=16, num_layers=2, dropout=0.0, **kw)
    return GPTRec(cfg).eval()


def test_score_equals_the_last_position_of_the_full_forward():
    model = _random_model()
    hist = [np.array([3, 4, 5]), np.array([1, 2, 7, 8, 9, 10, 11])]
    ids, mask = left_padded_prompts(hist, model.cfg.max_len)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    full = model(ids, mask, position_ids=pos)[:, -1, OFFSET:].detach().numpy()
    assert np.allclose(model.score(hist), full, atol=1e-5)


def test_first_greedy_item_is_the_top1_of_the_full_ranking_with_seen_masked():
    from llm4rec_utils.evaluate import top_k_items

    model = _random_model(seed=1)
    rng = np.random.default_rng(0)
    hists = [rng.choice(30, size=rng.integers(1, 9), replace=False) for _ in range(20)]
    scores = model.score(hists)
    top1 = top_k_items(scores, 1, exclude=hists)[:, 0]
    greedy = generate_items(model, hists, steps=1)
    assert [g[0] for g in greedy] == top1.tolist()
    # the scaling matters: GPT-2's own embedding lookup would rank differently
    ids, mask = left_padded_prompts(hists, model.cfg.max_len)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    unscaled = model.lm(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]
    assert not np.allclose(unscaled[:, OFFSET:].detach().numpy(), scores, atol=1e-3)


def test_generation_never_repeats_or_shows_seen_items_and_beam_is_at_least_as_likely():
    model = _random_model(seed=2)
    hists = [np.array([0, 1, 2, 3]), np.array([5])]
    for beams in (1, 4):
        generated = generate_items(model, hists, steps=6, num_beams=beams)
        for hist, gen in zip(hists, generated, strict=True):
            assert len(gen) == 6 and len(set(gen.tolist())) == 6
            assert not set(gen.tolist()) & set(hist.tolist())
            assert gen.min() >= 0 and gen.max() < 30

    def logp(hist, gen):
        total = 0.0
        for t in range(len(gen)):
            logits = model.next_logits([np.concatenate([hist, gen[:t]])])
            lp = torch.log_softmax(logits, -1)[0, OFFSET:].numpy()
            lp[np.concatenate([hist, gen[:t]]).astype(int)] = -np.inf
            total += lp[gen[t]]
        return total

    hist = hists[0]
    greedy = generate_items(model, [hist], 3)[0]
    beam = generate_items(model, [hist], 3, num_beams=5)[0]
    assert logp(hist, beam) >= logp(hist, greedy) - 1e-6
    with pytest.raises(ValueError, match="positive"):
        generate_items(model, hists, steps=0)


def test_loss_equals_the_full_vocabulary_loss_with_padding_ignored():
    torch.manual_seed(0)
    model = GPTRec(GPTRecConfig(num_items=30, max_len=8, emb_dim=16, num_layers=1, num_heads=2))
    model.eval()
    ids = torch.randint(OFFSET, 30 + OFFSET, (4, 8))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # right padding
    mask[3, 2:] = 0
    ids = ids.masked_fill(mask == 0, 0)
    logits = model(ids, mask)[:, :-1]
    target = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    full = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(model.loss(ids, mask), full)
