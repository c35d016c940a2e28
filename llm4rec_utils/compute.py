"""Measuring what a model costs: parameters, FLOPs, latency, throughput, peak memory, money.

FLOPs are *counted* by running the forward pass under ``torch.utils.flop_counter``, which adds
``2·M·N·K`` for every matrix product (one multiply and one add per term); element-wise work
(activations, norms, softmax) is not counted, which is standard and small next to the
products. Two kinds of product the counter does not see are added: PyTorch's fused CPU
attention kernel (``scaled_dot_product_attention`` on CPU, used by Hugging Face's BERT and
GPT-2), counted here with PyTorch's own attention formula (``QK^T`` and ``weights·V``), and
sparse products (LightGCN's propagation), which the caller adds by hand.
Latency is wall time, median over repeats, after warm-up.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import numpy as np
import torch


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _cpu_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kw):
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _uncounted_kernels() -> dict:
    """Kernels whose products ``FlopCounterMode`` misses, with the formula to count them."""
    aten = torch.ops.aten
    names = ["_scaled_dot_product_flash_attention_for_cpu"]
    return {getattr(aten, n): _cpu_attention_flops for n in names if hasattr(aten, n)}


@torch.no_grad()
def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of ``fn`` (matrix products, ``2·M·N·K`` each),
    fused CPU attention included; sparse products are not counted."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_uncounted_kernels()) as counter:
        fn()
    return int(counter.get_total_flops())


@torch.inference_mode()
def measure_latency(
    fn: Callable[[], object], repeats: int = 10, warmup: int = 2, device="cpu"
) -> float:
    """Median wall seconds of one call of ``fn`` after ``warmup`` untimed calls."""
    if repeats <= 0:
        raise ValueError(f"repeats must be positive, got {repeats}")
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.inference_mode()
def peak_memory_mb(fn: Callable[[], object], device="cpu", interval_s: float = 0.001) -> float:
    """Extra memory at the peak of one call of ``fn``, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated`` above what was allocated before. CPU: the
    process's resident set size, sampled every ``interval_s`` by a thread, minus its size
    before the call (a lower bound: a spike shorter than the interval can be missed, and memory
    the allocator keeps from earlier calls is not counted again).
    """
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    import psutil

    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return (peak[0] - before) / 2**20


def cost_per_million(items_per_s: float, price_per_hour: float) -> float:
    """Money for one million scored items at ``items_per_s`` on a machine that costs
    ``price_per_hour``: ``price_per_hour / 3600 / items_per_s * 1e6``."""
    if items_per_s <= 0 or price_per_hour < 0:
        raise ValueError(
            f"need a positive throughput and a non-negative price: {items_per_s}, {price_per_hour}"
        )
    return price_per_hour / 3600.0 / items_per_s * 1e6


def pareto_front(cost, quality) -> np.ndarray:
    """Boolean mask of the points no other point beats: nothing is at most as costly *and* at
    least as good while strictly better in one of the two."""
    c, q = np.asarray(cost, dtype=float), np.asarray(quality, dtype=float)
    if c.shape != q.shape or c.ndim != 1:
        raise ValueError("cost and quality must be 1-D arrays of the same length")
    keep = np.ones(len(c), dtype=bool)
    for i in range(len(c)):
        dominated = (c <= c[i]) & (q >= q[i]) & ((c < c[i]) | (q > q[i]))
        keep[i] = not dominated.any()
    return keep
