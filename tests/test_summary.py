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


def test_ratio_and_recap():
    assert S.ratio(4, 2) == "×2" and S.ratio(1, 0) == "–"
    text = S.recap(["load the data", "split it"])
    assert text.splitlines() == ["What this notebook taught:", "  - load the data", "  - split it"]


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
