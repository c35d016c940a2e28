"""Shared fixtures: tiny frames whose metrics can be checked by hand."""

import pandas as pd
import pytest


@pytest.fixture(scope="session", autouse=True)
def _rerun_copy_in_background(request, tmp_path_factory):
    """Start test_rerun's notebook copy when the session starts, if that test is selected: it
    then runs beside the unit tests instead of after the notebooks' smoke runs."""
    if any(item.originalname == "test_rerun_training_cell_replaces_its_rows"
           for item in request.session.items):
        from test_rerun import start_copy_run

        start_copy_run(tmp_path_factory.mktemp("rerun-05"))
    yield


@pytest.fixture
def tiny_ratings() -> pd.DataFrame:
    """4 users x up to 5 items, with a timestamp tie for user 1 at its last second."""
    rows = [
        # user, item, rating, timestamp
        (1, 10, 5, 100),
        (1, 11, 3, 200),
        (1, 12, 4, 300),
        (1, 13, 2, 300),
        (1, 14, 4, 250),
        (2, 10, 4, 100),
        (2, 12, 5, 110),
        (2, 13, 1, 120),
        (2, 14, 3, 130),
        (3, 11, 2, 500),
        (3, 12, 4, 400),
        (3, 14, 5, 450),
        (3, 10, 1, 600),
        (4, 10, 3, 50),
        (4, 13, 4, 60),
        (4, 14, 5, 70),
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
