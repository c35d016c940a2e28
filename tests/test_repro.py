import numpy as np
import pytest
import torch

from llm4rec_utils.repro import (
    autocast,
    by_profile,
    check_profile,
    get_device,
    resolve_precision,
    set_seed,
)


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


def test_the_package_leaves_the_openmp_wait_policy_alone():
    """OMP_WAIT_POLICY=PASSIVE made two torch threads slower than one on small-batch training
    (BPR, LightGCN, MF) here, so neither the package nor the runner imposes it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import os, llm4rec_utils.tooling.runner; print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "None"


def test_precision_resolves_explicitly_automatically_and_from_the_environment(monkeypatch):
    from llm4rec_utils import repro

    monkeypatch.delenv("LLM4REC_PRECISION", raising=False)
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(repro, "_cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(repro, "_cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setenv("LLM4REC_PRECISION", "bf16")
    assert resolve_precision("auto", "cpu") == "bf16"
    assert resolve_precision("fp32", "cpu") == "fp32"  # an explicit choice wins
    monkeypatch.setenv("LLM4REC_PRECISION", "half")
    with pytest.raises(ValueError, match="LLM4REC_PRECISION"):
        resolve_precision("auto")
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16")


def test_autocast_runs_products_in_bf16_only_when_asked():
    a = torch.randn(4, 4)
    with autocast("bf16", "cpu"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast("fp32", "cpu"):
        assert (a @ a).dtype == torch.float32


def _mps(monkeypatch, available: bool, macos14: bool = True):
    """A machine whose torch sees no CUDA GPU, with Apple's MPS backend available or not."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: available)
    monkeypatch.setattr(torch.backends.mps, "is_macos_or_newer", lambda major, minor: macos14)
    monkeypatch.delenv("LLM4REC_PRECISION", raising=False)


def test_auto_on_apple_silicon_picks_mps_and_fp32(monkeypatch):
    import contextlib

    _mps(monkeypatch, available=True)
    device = get_device("auto")
    assert device.type == "mps" and get_device("mps").type == "mps"
    assert resolve_precision("auto", device) == "fp32"  # no fast bf16 products there
    assert isinstance(autocast("auto", device), contextlib.nullcontext)
    assert resolve_precision("bf16", device) == "bf16"  # asked for, and macOS 14 runs it


def test_bf16_on_an_mps_that_cannot_run_it_falls_back_to_fp32(monkeypatch):
    import contextlib

    _mps(monkeypatch, available=True, macos14=False)
    with pytest.warns(RuntimeWarning, match="using fp32"):
        assert resolve_precision("bf16", "mps") == "fp32"
    monkeypatch.setenv("LLM4REC_PRECISION", "bf16")
    with pytest.warns(RuntimeWarning, match="using fp32"):
        assert isinstance(autocast("auto", "mps"), contextlib.nullcontext)


def test_without_mps_auto_is_the_cpu_and_mps_is_refused(monkeypatch):
    _mps(monkeypatch, available=False)
    assert get_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="MPS"):
        get_device("mps")
    with pytest.warns(RuntimeWarning, match="using fp32"):
        assert resolve_precision("bf16", "mps") == "fp32"


def test_progress_bars_are_text_when_headless():
    import subprocess
    import sys

    code = "from llm4rec_utils.progress import tqdm; print(tqdm.__module__)"
    out = {}
    for flag in ("1", ""):
        env = {k: v for k, v in __import__("os").environ.items() if k != "LLM4REC_HEADLESS"}
        if flag:
            env["LLM4REC_HEADLESS"] = flag
        out[flag] = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, check=True).stdout.strip()
    assert out["1"] == "tqdm.std" and out[""] != "tqdm.std"
