import json
import math

import numpy as np
import pytest

from llm4rec_utils import results as R


def test_record_appends_and_replaces(tmp_path):
    path = tmp_path / "results.json"
    R.record_metric(path, "02_x", "tfidf", "msr-75-25", "ndcg@10", np.float32(0.25), k=10)
    R.record_metric(path, "02_x", "tfidf", "msr-75-25", "map@10", 0.1)
    R.record_metric(path, "02_x", "tfidf", "msr-75-25", "ndcg@10", 0.3)  # replaces
    data = json.loads(path.read_text())
    assert len(data["metrics"]) == 2
    assert R.get_metric(data, "02_x", "tfidf", "msr-75-25", "ndcg@10") == pytest.approx(0.3)
    assert set(data) == {"provenance", "notebooks", "metrics"}
    with pytest.raises(KeyError, match="no metric recorded"):
        R.get_metric(data, "02_x", "glove", "msr-75-25", "ndcg@10")


def test_nan_is_refused_and_empty_path_does_not_write(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        R.record_metric(tmp_path / "r.json", "n", "m", "p", "x", math.nan)
    row = R.record_metric("", "n", "m", "p", "x", 1)
    assert row["value"] == 1.0 and not list(tmp_path.iterdir())


def test_results_table_lists_everything():
    data = {
        "provenance": {"commit": "abc", "profile": "smoke"},
        "notebooks": {"01_a": {"status": "ok", "wall_s": 1.5, "peak_rss_mb": 300}},
        "metrics": [
            {"notebook": "01_a", "model": "m", "protocol": "p", "metric": "x", "value": 0.12345}
        ],
    }
    table = R.results_table(data)
    assert "| 01_a | ok | 1.5 | 300 |" in table
    assert "| 01_a | m | p | x | 0.1235 |" in table
