import json
import math

import numpy as np
import pytest

from llm4rec_utils.tooling import results as R


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


def test_shots_are_part_of_the_key(tmp_path):
    from llm4rec_utils.tooling.results import get_metric, read_results, record_metric, results_table

    path = tmp_path / "r.json"
    record_metric(path, "nb", "lm", "p", "auc", 0.7)
    record_metric(path, "nb", "lm", "p", "auc", 0.6, shots=16)
    record_metric(path, "nb", "lm", "p", "auc", 0.65, shots=16)  # replaces the 16-shot row
    res = read_results(path)
    assert len(res["metrics"]) == 2
    assert get_metric(res, "nb", "lm", "p", "auc") == 0.7
    assert get_metric(res, "nb", "lm", "p", "auc", shots=16) == 0.65
    with pytest.raises(KeyError, match="shots|64"):
        get_metric(res, "nb", "lm", "p", "auc", shots=64)
    with pytest.raises(ValueError, match="key fields"):
        get_metric(res, "nb", "lm", "p", "auc", seed=1)
    assert "auc (shots=16)" in results_table(res)


def test_report_has_leaderboards_and_html():
    data = {
        "provenance": {"commit": "abc"},
        "notebooks": {"01_a": {"status": "ok", "wall_s": 1.5, "peak_rss_mb": 300}},
        "metrics": [
            {"notebook": "01_a", "model": "m", "protocol": "p", "metric": "x", "value": 0.5},
            {"notebook": "01_a", "model": "m", "protocol": "p", "metric": "y", "value": 2.0},
            {"notebook": "01_a", "model": "k", "protocol": "p", "metric": "y", "value": 3.0},
            {"notebook": "01_a", "model": "k", "protocol": "p", "metric": "x", "value": 2.5e-6},
        ],
    }
    md = R.results_table(data)
    assert "### p" in md
    assert "| model | notebook | x | y |" in md
    assert "| m | 01_a | 0.5000 | 2 |" in md and "| k | 01_a | 2.5e-06 | 3 |" in md
    assert "| **total** | | 1.5 | |" in md
    html = R.results_html(md)
    assert "<table>" in html and "<h3>p</h3>" in html


def test_compare_runs_checks_each_value_against_the_first_runs_interval():
    from llm4rec_utils.tooling.results import compare_runs

    def run(auc, ndcg, wall):
        rows = [("auc", auc), ("auc_ci_low", 0.6), ("auc_ci_high", 0.7), ("train_wall_s", wall)]
        metrics = [dict(notebook="04", model="lm", protocol="p", metric=k, value=v)
                   for k, v in rows]
        metrics.append(dict(notebook="07", model="ease", protocol="msr", metric="ndcg@10",
                            value=ndcg, round=3))
        return {"provenance": {}, "notebooks": {}, "metrics": metrics}

    table = compare_runs(run(0.65, 0.4, 10.0), run(0.69, 0.5, 99.0)).set_index("metric")
    assert set(table.index) == {"auc", "ndcg@10"}  # intervals and wall times are not compared
    assert bool(table.loc["auc", "within"]) and table.loc["ndcg@10", "within"] is None
    assert table.loc["ndcg@10", "key"] == "round=3"
    assert not compare_runs(run(0.65, 0.4, 1), run(0.71, 0.4, 1)).set_index("metric").loc[
        "auc", "within"
    ]
