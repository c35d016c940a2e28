import numpy as np
import pytest
import torch

from llm4rec_utils.repro import by_profile, check_profile, get_device, set_seed


def test_set_seed_makes_draws_repeatable():
    set_seed(3)
    a = (np.random.rand(3), torch.rand(3))
    set_seed(3)
    b = (np.random.rand(3), torch.rand(3))
    assert np.allclose(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="non-negative integer"):
        set_seed(-1)


def test_get_device():
    assert get_device("cpu").type == "cpu"
    assert get_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="unknown DEVICE"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            get_device("cuda")


def test_profiles():
    assert check_profile("smoke") == "smoke"
    with pytest.raises(ValueError, match="unknown PROFILE 'fast'"):
        check_profile("fast")
    assert by_profile("gpu", smoke=1, full=2) == 2
    assert by_profile("smoke", smoke=1, full=2) == 1
    with pytest.raises(ValueError, match="no value"):
        by_profile("full", smoke=1)


def test_thread_policy_is_set_by_the_package():
    import os

    import llm4rec_utils  # noqa: F401

    assert os.environ["OMP_WAIT_POLICY"].upper() == "PASSIVE"
