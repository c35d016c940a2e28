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
            {"notebook": "01_a", "model": "m", "protocol": "p", "metric": "ndcg@10", "value": 0.5},
            {"notebook": "01_a", "model": "m", "protocol": "p", "metric": "hr@10", "value": 0.7},
            {"notebook": "01_a", "model": "k", "protocol": "p", "metric": "hr@10", "value": 0.9},
            {"notebook": "01_a", "model": "k", "protocol": "p", "metric": "ndcg@10", "value": 0.6},
            {"notebook": "01_a", "model": "k", "protocol": "p", "metric": "peak_mb", "value": 1},
        ],
    }
    md = R.results_table(data)
    assert "### p" in md
    assert "| model | notebook | ndcg@10 | hr@10 |" in md  # quality only, main metric first
    assert md.index("| k | 01_a | 0.6000 | 0.9000 |") < md.index("| m | 01_a | 0.5000 | 0.7000 |")
    assert "| **total** | | 1.5 | |" in md
    html = R.results_html(md)
    assert "<table>" in html and "<h3>p</h3>" in html


def test_leaderboards_hold_models_only_sorted_by_their_main_metric():
    rows = [
        dict(notebook="01_a", model="dataset", protocol="ml", metric="users", value=943),
        dict(notebook="06_b", model="mf", protocol="5-fold", metric="rmse", value=0.95),
        dict(notebook="06_b", model="svd", protocol="5-fold", metric="rmse", value=0.93),
        dict(notebook="04_c", model="lm", protocol="t", metric="auc", value=0.6, shots=16),
        dict(notebook="04_c", model="lm", protocol="t", metric="auc", value=0.7),
        dict(notebook="08_compute_and_cost", model="lm", protocol="t", metric="auc", value=0.71),
        dict(notebook="07_d", model="a-vs-b", protocol="t", metric="paired_p_value", value=0.01),
    ]
    boards = R.leaderboard_tables({"metrics": rows})
    assert "ml" not in boards  # dataset statistics are not a leaderboard
    assert boards["5-fold"][2].startswith("| svd |")  # lower RMSE first
    t = "\n".join(boards["t"])
    assert "lm (re-scored in 08)" in t and "0.6000" not in t and "p_value" not in t


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


@pytest.mark.parametrize("value", [math.inf, -math.inf, np.float64("inf")])
def test_infinity_is_refused_like_nan(tmp_path, value):
    with pytest.raises(ValueError, match="refusing to record -?inf"):
        R.record_metric(tmp_path / "r.json", "n", "m", "p", "x", value)
    assert not (tmp_path / "r.json").exists()
    # a file that already holds one (hand-made, or older) still renders
    row = dict(notebook="n", model="m", protocol="p", metric="x", value=value)
    assert "inf |" in R.results_table({"metrics": [row]})


def test_a_pipe_in_a_name_does_not_break_the_markdown_tables():
    rows = [
        dict(notebook="01_a", model="bm25|title", protocol="p|q", metric="ndcg@10", value=0.5),
        dict(notebook="01_a", model="ease", protocol="p|q", metric="ndcg@10", value=0.25),
    ]
    md = R.results_table({"provenance": {}, "notebooks": {}, "metrics": rows})
    board = R.leaderboard_tables({"metrics": rows})["p|q"]
    assert "| bm25\\|title | 01_a | 0.5000 |" in board
    assert all(line.replace("\\|", "").count("|") == 4 for line in board)  # 3 columns each
    assert "| 01_a | bm25\\|title | p\\|q | ndcg@10 | 0.5000 |" in md
    html = R.results_html(md)
    assert "<td>bm25|title</td>" in html and "<td>title</td>" not in html


def _record_many(args):
    path, worker, n = args
    for i in range(n):
        R.record_metric(path, f"nb{worker}", "m", "p", f"x{i}", i)


def test_concurrent_writers_and_a_run_start_keep_every_row(tmp_path):
    """Many processes recording at once, and the runner resetting another notebook's rows at
    the start of its run: every read-modify-write holds the results lock, so no row is lost."""
    import multiprocessing as mp

    from llm4rec_utils.tooling.runner import start_results

    path = tmp_path / "results.json"
    ctx = mp.get_context("spawn")
    with ctx.Pool(6) as pool:
        pending = pool.map_async(_record_many, [(path, w, 15) for w in range(6)])
        for _ in range(10):  # the runner's start-of-run rewrite, racing the writers
            start_results(path, ["nb-being-rerun"], {"profile": "smoke", "seed": 42})
        pending.get(timeout=300)
    rows = R.read_results(path)["metrics"]
    assert len(rows) == 6 * 15
    assert {(m["notebook"], m["metric"]) for m in rows} == {
        (f"nb{w}", f"x{i}") for w in range(6) for i in range(15)
    }


def test_rows_carry_the_notebooks_profile_and_seed_and_a_mismatch_is_refused(tmp_path):
    """A notebook's PROFILE and SEED (its parameters) go into every row it records; a notebook
    run by hand with other settings than the run in results.json is refused in one line."""
    path = tmp_path / "results.json"
    R.write_results(path, {"provenance": {"profile": "full", "seed": 42}, "notebooks": {},
                           "metrics": []})
    ns = {"PROFILE": "full", "SEED": 42, "R": R, "path": path}
    exec("row = R.record_metric(path, '07_x', 'm', 'p', 'x', 0.5)", ns)  # a notebook's cell
    assert ns["row"]["profile"] == "full" and ns["row"]["seed"] == 42
    assert R.read_results(path)["metrics"][0]["seed"] == 42
    ns.update(PROFILE="smoke", SEED=1)
    with pytest.raises(ValueError, match=r"holds a PROFILE='full' SEED=42 run and this notebook "
                                         r"runs PROFILE='smoke' SEED=1: refusing to mix"):
        exec("R.record_metric(path, '07_x', 'm', 'p', 'y', 0.5)", ns)
    assert len(R.read_results(path)["metrics"]) == 1
    # without provenance, the first row's settings are the file's
    other = tmp_path / "other.json"
    exec("R.record_metric(other, '07_x', 'm', 'p', 'x', 0.5)", {**ns, "other": other})
    with pytest.raises(ValueError, match="refusing to mix"):
        exec("R.record_metric(other, '07_x', 'm', 'p', 'y', 0.5)",
             {**ns, "other": other, "SEED": 2})
