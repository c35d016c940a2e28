import numpy as np
import pytest
import torch

from llm4rec_utils.metrics import auc
from llm4rec_utils.textrnn import (
    UNK,
    BiLSTMClassifier,
    GloveVectors,
    RNNConfig,
    TextVocab,
    glove_tokenize,
    load_glove,
    predict_rnn,
    reverse_within_length,
    train_bilstm,
)


@pytest.fixture(scope="module")
def glove():
    return load_glove()


def test_tokenize_like_glove():
    assert glove_tokenize("Movie average 3.8 from 120 ratings; user's (1995)?") == [
        "movie", "average", "3.8", "from", "120", "ratings", ";", "user's", "(", "1995", ")", "?"
    ]  # fmt: skip


def test_the_real_vectors(glove):
    assert len(glove.tokens) == 400_000 and glove.dim == 50
    v = glove.vectors / np.linalg.norm(glove.vectors, axis=1, keepdims=True)
    cos = v[[glove.index["king"], glove.index["movie"]]] @ v[glove.index["queen"]]
    assert cos[0] > 0.7 > cos[1]  # related words lie close, unrelated ones do not
    prompt = "User liked: Heat, Toy Story. Will the user like Fargo (1996)? Movie average 4.1"
    assert glove.coverage([prompt]) == 1.0


def test_vocab_encodes_and_keeps_the_end():
    g = GloveVectors(["the", "film", "great"], np.eye(3, 4, dtype=np.float32))
    vocab = TextVocab(["the film", "great"], g)
    ids, lengths = vocab.encode(["the great film", "unknownword", "film"], max_len=2)
    assert lengths.tolist() == [2, 1, 1]  # the first text keeps its last 2 tokens
    assert ids[0].tolist() == [vocab.index["great"], vocab.index["film"]]
    assert ids[1, 0] == UNK and ids[1, 1] == 0  # unknown, then padding
    np.testing.assert_array_equal(vocab.table[vocab.index["great"]], g.vectors[2])
    assert not vocab.table[:2].any()  # padding and unknown are zero vectors


def test_padding_does_not_change_the_output():
    torch.manual_seed(0)
    model = BiLSTMClassifier(np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32), 3)
    model.eval()
    short = model(torch.tensor([[2, 3, 4]]), torch.tensor([3]))
    padded = model(torch.tensor([[2, 3, 4, 0, 0]]), torch.tensor([3]))
    torch.testing.assert_close(short, padded)
    # and the embeddings are frozen: only the LSTM and output layer train
    assert not model.embed.weight.requires_grad


def test_learns_a_word_order_task(glove):
    # the same two words; only their order says the label, which a bag of words cannot see
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    texts = ["good then bad" if t else "bad then good" for t in y]
    vy = rng.integers(0, 2, 100)
    vtexts = ["good then bad" if t else "bad then good" for t in vy]
    cfg = RNNConfig(hidden=8, epochs=5, batch_size=32, lr=1e-2)
    model, vocab, hist = train_bilstm(texts, y, glove, cfg, vtexts, vy, progress=False)
    assert auc(vy, predict_rnn(model, vocab, vtexts)) == pytest.approx(hist["best"]) == 1.0
    with pytest.raises(ValueError, match="both classes"):
        train_bilstm(texts, np.zeros(400), glove, cfg, vtexts, vy)


def test_missing_files_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="glove_6B_50d_emb.npy"):
        load_glove(tmp_path)


def test_two_directions_equal_a_packed_bidirectional_lstm():
    torch.manual_seed(0)
    model = BiLSTMClassifier(np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32), 3)
    model.eval()
    packed_lstm = torch.nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name, p in model.forward_lstm.named_parameters():
            p.copy_(getattr(packed_lstm, name))
        for name, p in model.backward_lstm.named_parameters():
            p.copy_(getattr(packed_lstm, name + "_reverse"))
    ids = torch.tensor([[2, 3, 4, 5, 6], [7, 8, 0, 0, 0], [9, 2, 3, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    x = model.embed(ids)
    rnn = torch.nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = rnn.pad_packed_sequence(packed_lstm(packed)[0], batch_first=True)
    # the model's states, taken from inside its forward pass
    states = {}
    model.forward_lstm.register_forward_hook(lambda m, i, o: states.__setitem__("f", o[0]))
    model.backward_lstm.register_forward_hook(lambda m, i, o: states.__setitem__("b", o[0]))
    model(ids, lengths)
    rev = reverse_within_length(lengths, 5)[..., None].expand(-1, -1, 3)
    got = torch.cat([states["f"], states["b"].gather(1, rev)], dim=-1)
    real = (torch.arange(5)[None] < lengths[:, None])[..., None]
    torch.testing.assert_close(got * real, want * real)
    assert reverse_within_length(lengths, 5)[1].tolist() == [1, 0, 2, 3, 4]


def test_freeze_false_makes_the_embeddings_trainable():
    table = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    frozen = BiLSTMClassifier(table, 3)
    free = BiLSTMClassifier(table, 3, freeze=False)

    def count(m):
        return sum(p.numel() for p in m.parameters() if p.requires_grad)

    assert free.embed.weight.requires_grad and not frozen.embed.weight.requires_grad
    assert count(free) - count(frozen) == table.size
    assert RNNConfig().freeze  # the default keeps the pretrained vectors fixed
    # a training step moves the word vectors only when they are not frozen
    before = free.embed.weight.detach().clone()
    free(torch.tensor([[2, 3, 4]]), torch.tensor([3])).sum().backward()
    torch.optim.SGD(free.parameters(), lr=0.1).step()
    assert not torch.equal(before[2:5], free.embed.weight.detach()[2:5])
    torch.testing.assert_close(free.embed.weight.detach()[0], before[0])  # padding row stays
