import numpy as np
import pandas as pd
import pytest
import torch

from llm4rec_utils import embeddings as E


def test_tokenize_and_vocab():
    assert E.tokenize("Children's Comedy (1995).") == ["children's", "comedy", "1995"]
    v = E.Vocab.build([["b", "a", "b"], ["c", "b"]])
    assert v.tokens == ["b", "a", "c"] and v.counts.tolist() == [3, 1, 1]
    assert v.encode(["c", "zzz", "b"]).tolist() == [2, 0]


def test_skipgram_pairs_by_hand():
    c, o = E.skipgram_pairs([np.array([7, 8, 9])], window=1)
    assert sorted(zip(c.tolist(), o.tolist(), strict=True)) == [(7, 8), (8, 7), (8, 9), (9, 8)]
    with pytest.raises(ValueError, match="no pairs"):
        E.skipgram_pairs([np.array([1])], 2)


def test_sgns_loss_by_hand():
    m = E.SkipGramNS(3, 2)
    with torch.no_grad():
        m.in_emb.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        m.out_emb.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
    loss = m.loss(torch.tensor([0]), torch.tensor([1]), torch.tensor([[0]]))
    # u_o . v_c = 0 -> -log sigma(0); u_n . v_c = 2 -> -log sigma(-2)
    expected = -np.log(0.5) - np.log(1 / (1 + np.exp(2)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_skipgram_separates_two_communities():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 5, 30) for _ in range(40)] + [
        rng.integers(5, 10, 30) for _ in range(40)
    ]
    vecs, hist = E.train_skipgram(
        seqs, 10, emb_dim=8, window=2, epochs=5, lr=0.02, batch_size=256, progress=False
    )
    assert hist["loss"][-1] < hist["loss"][0]
    nb = [i for i, _ in E.nearest_neighbours(vecs, 0, 3)]
    assert all(i < 5 for i in nb), nb


def test_skipgram_noise_exponent_changes_the_negatives(monkeypatch):
    seen = []
    real = E.torch.multinomial

    def spy(probs, *args, **kwargs):
        seen.append(probs.clone())
        return real(probs, *args, **kwargs)

    monkeypatch.setattr(E.torch, "multinomial", spy)
    seqs = [np.array([0, 0, 0, 0, 1, 2])] * 4  # token 0 is four times as frequent as 1 or 2
    for exponent in (1.0, 0.0):
        E.train_skipgram(
            seqs, 3, emb_dim=4, window=1, epochs=1, progress=False, noise_exponent=exponent
        )
    assert np.allclose(seen[0].numpy(), [4 / 6, 1 / 6, 1 / 6])  # unigram frequency
    assert np.allclose(seen[-1].numpy(), [1 / 3, 1 / 3, 1 / 3])  # uniform


def test_cooccurrence_weights_by_distance():
    m = E.cooccurrence_matrix([np.array([0, 1, 2])], 3, window=2).toarray()
    assert m[0, 1] == 1.0 and m[1, 0] == 1.0 and m[0, 2] == 0.5 and m[1, 2] == 1.0
    assert np.allclose(m, m.T)


def test_glove_fits_log_counts():
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 6, 40) for _ in range(50)]
    cooc = E.cooccurrence_matrix(seqs, 6, window=2)
    vecs, hist = E.train_glove(
        cooc, emb_dim=4, epochs=30, lr=0.1, batch_size=64, x_max=10, progress=False
    )
    assert vecs.shape == (6, 4) and hist["loss"][-1] < 0.5 * hist["loss"][0]


def test_mean_pool_ignores_padding():
    h = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    m = torch.tensor([[1, 1, 0]])
    assert E.mean_pool(h, m).tolist() == [[2.0, 2.0]]


def test_content_scores_are_cosines_to_the_liked_mean():
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    liked = pd.DataFrame({"user_id": [0, 0], "item_id": [0, 1]})
    scores = E.content_score_fn(vecs, liked, 2)(np.array([0, 1]))
    assert scores[0] == pytest.approx([np.sqrt(0.5), np.sqrt(0.5), 1.0])
    assert scores[1] == pytest.approx([0, 0, 0])  # no liked items: zero profile


def test_encoding_draws_no_loading_bar_and_leaves_transformers_bars_as_they_were(capfd):
    from transformers.utils import logging as hf_logging

    from llm4rec_utils.progress import no_loading_bars

    before = hf_logging.set_tqdm_hook(None)
    hf_logging.set_tqdm_hook(before)
    E.encode_texts(["a film"], progress=False)
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.set_tqdm_hook(before) is before  # the block's hook was taken off again
    with no_loading_bars():
        list(hf_logging.tqdm(range(3), desc="inside"))
    list(hf_logging.tqdm(range(3), desc="outside"))
    err = capfd.readouterr().err
    assert "inside" not in err
    assert ("outside" in err) == hf_logging.is_progress_bar_enabled()


def test_encode_texts_restores_input_order_and_caches_by_content(tmp_path, monkeypatch):
    texts = ["a long sentence about a space opera with many words", "short", "mid length text"]
    vecs = E.encode_texts(texts, progress=False, cache_dir=tmp_path)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    alone = np.stack([E.encode_texts([t], progress=False)[0] for t in texts])
    np.testing.assert_allclose(vecs, alone, atol=1e-5)  # length buckets change nothing
    assert len(list((tmp_path / "encodings").glob("*.npy"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("the encoder ran although the cache holds these texts")

    monkeypatch.setattr(E, "_encode", boom)
    np.testing.assert_array_equal(E.encode_texts(texts, cache_dir=tmp_path), vecs)
    with pytest.raises(AssertionError, match="encoder ran"):  # other texts: a miss
        E.encode_texts(texts[:2], cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="encoder ran"):  # other options: a miss
        E.encode_texts(texts, normalize=False, cache_dir=tmp_path)


def _fake_encoder(monkeypatch):
    calls = []

    def fake(texts, *args):
        calls.append(list(texts))
        return np.arange(len(texts) * 4, dtype=np.float32).reshape(len(texts), 4)

    monkeypatch.setattr(E, "_encode", fake)
    return calls


@pytest.mark.parametrize("damage", ["flipped", "random", "truncated", "no-sidecar", "not-npy"])
def test_a_damaged_encoding_cache_is_named_removed_and_encoded_again(tmp_path, monkeypatch, damage):
    from llm4rec_utils.tooling.files import DamagedCacheWarning, write_checked

    calls = _fake_encoder(monkeypatch)
    texts = ["one", "two", "three"]
    vecs = E.encode_texts(texts, base_model="fake", cache_dir=tmp_path)
    (path,) = (tmp_path / "encodings").glob("*.npy")
    assert path.with_name(path.name + ".sha256").exists()
    data = path.read_bytes()
    if damage == "flipped":  # a byte of the numbers: np.load would return a wrong vector
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    elif damage == "random":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "no-sidecar":
        path.with_name(path.name + ".sha256").unlink()
    else:  # checksum fine, but not an array of these rows
        write_checked(path, lambda tmp: tmp.write_bytes(b"\x93NUMPY garbage"))
    with pytest.warns(DamagedCacheWarning, match=rf"{path.name}.*removed.*rebuilt") as rec:
        again = E.encode_texts(texts, base_model="fake", cache_dir=tmp_path)
    assert len(rec) == 1 and len(calls) == 2  # encoded again, not read silently
    np.testing.assert_array_equal(again, vecs)
    third = E.encode_texts(texts, base_model="fake", cache_dir=tmp_path)
    np.testing.assert_array_equal(third, vecs)
    assert len(calls) == 2  # the rebuilt file is used
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]


def test_a_crashed_encoding_write_leaves_no_tmp(tmp_path, monkeypatch):
    _fake_encoder(monkeypatch)

    def dies(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(np, "save", dies)
    with pytest.raises(OSError, match="no space"):
        E.encode_texts(["one"], base_model="fake", cache_dir=tmp_path)
    assert list((tmp_path / "encodings").iterdir()) == []
