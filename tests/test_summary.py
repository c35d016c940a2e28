import pytest

from llm4rec_utils import summary as S
from llm4rec_utils.tooling import results as R


@pytest.mark.parametrize(
    "value, text",
    [
        (0.11194, "0.112"),
        (0.0253, "0.0253"),
        (1.0, "1"),
        (0.5, "0.500"),
        (5.0, "5"),
        (95.84, "95.8"),
        (128, "128"),
        (6734, "6,734"),
        (12734.2, "12,700"),
        (518385823, "518 M"),
        (2569569024, "2.57 G"),
        (2.9e-06, "2.90e-06"),
        (0, "0"),
        (float("nan"), "–"),
        (-0.0123, "-0.0123"),
    ],
)
def test_fmt_three_significant_digits(value, text):
    assert S.fmt(value) == text


def test_compare_wording_follows_the_numbers():
    holds, text = S.compare("A", 0.8, "B", 0.7)
    assert holds is True and "A 0.800 is higher than B 0.700" in text
    holds, text = S.compare("A", 0.6, "B", 0.7)
    assert holds is False and "lower" in text
    holds, text = S.compare("A", 0.75, "B", 0.7, (0.7, 0.8), (0.65, 0.76), metric="AUC")
    assert holds is None and "overlap" in text and "A AUC 0.750 [0.700, 0.800]" in text
    holds, _ = S.compare("A", 0.9, "B", 0.7, (0.85, 0.95), (0.65, 0.75))
    assert holds is True
    holds, text = S.compare("A", 0.731, "B", 0.7305, min_gap=0.005)
    assert holds is None and "differ by less than 0.00500" in text
    assert S.verdict("x beats y", None, "close").startswith("[undecided] x beats y")
    assert S.ratio(4, 2) == "×2" and S.ratio(1, 0) == "–"


def test_notebook_table_reads_this_notebooks_rows(tmp_path):
    path = tmp_path / "results.json"
    R.record_metric(path, "03_x", "sasrec", "loo-full", "ndcg@10", 0.11194)
    R.record_metric(path, "03_x", "sasrec", "loo-full", "hr@10", 0.2015)
    R.record_metric(path, "03_x", "popularity", "loo-full", "ndcg@10", 0.0253)
    R.record_metric(path, "04_y", "lm", "t", "auc", 0.7)
    R.record_metric(path, "04_y", "lm", "t", "auc", 0.6, shots=16)
    table = S.notebook_table(path, "03_x")
    assert table.loc[("sasrec", "loo-full"), "ndcg@10"] == "0.112"
    assert table.loc[("popularity", "loo-full"), "hr@10"] == "–"
    assert list(table.columns) == ["ndcg@10", "hr@10"]
    shots = S.notebook_table(path, "04_y")
    assert shots.loc[("lm", "t", "16"), "auc"] == "0.600"
    assert S.notebook_table(path, "99_none").empty


def test_gain_verdict_follows_the_paired_interval():
    from llm4rec_utils.summary import gain_verdict

    assert gain_verdict(0.02, 0.01, 0.03, "AUC")[0] is True
    holds, text = gain_verdict(-0.02, -0.03, -0.01)
    assert holds is False and "hurts" in text and "-0.0200" in text
    assert gain_verdict(0.01, -0.01, 0.03)[0] is None
    assert gain_verdict(float("nan"), float("nan"), float("nan"))[1].endswith(
        "not measured in this run"
    )


def test_compare_says_when_a_side_is_missing():
    holds, text = S.compare(
        "lm", 0.7, "bilstm", float("nan"), (0.6, 0.8), (float("nan"),) * 2, "AUC"
    )
    assert (
        holds is None
        and text == "bilstm AUC is not measured in this run, so there is nothing to compare"
    )
