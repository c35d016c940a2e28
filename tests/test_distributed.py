"""Data-parallel TALLRec fine-tuning with 2 processes on CPU (gloo), launched by `accelerate`.
The model is a tiny random GPT-2: this tests the distributed code path, not a result."""

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from llm4rec_utils.distributed import (
    build_model,
    parse_args,
    read_samples,
    targets_conv1d,
    write_samples,
)
from llm4rec_utils.finetune import tiny_bert_classifier, tiny_gpt2


def samples(n=40):
    texts = [
        f"User liked movie {i} and movie {i + 1}. Will they like movie {i + 2}?" for i in range(n)
    ]
    return texts, [i % 2 for i in range(n)]


def test_samples_round_trip_and_bad_files_are_named(tmp_path):
    path = write_samples(tmp_path / "s.jsonl", *samples(4))
    assert read_samples(path) == samples(4)
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": 3}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: label must be 0 or 1"):
        read_samples(tmp_path / "bad.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no samples"):
        read_samples(tmp_path / "empty.jsonl")
    with pytest.raises(SystemExit):
        parse_args(["--data", "x", "--out", "y", "--steps", "0"])


def test_lora_on_gpt2_conv1d_sets_fan_in_fan_out_without_peft_correcting_it():
    # GPT-2's c_attn/c_proj are transformers' Conv1D (weight stored d_in x d_out): peft warns
    # "fan_in_fan_out is set to False but the target module is `Conv1D`" unless the config says so
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*fan_in_fan_out.*")
        _, head = build_model("", "", seed=0, r=2)
    assert head.lm.peft_config["default"].fan_in_fan_out is True
    gpt2 = tiny_gpt2(50, n_layer=1, n_embd=8)
    assert targets_conv1d(gpt2, ["c_attn"]) and targets_conv1d(gpt2, ["c_attn", "c_proj"])
    assert targets_conv1d(gpt2, None)  # peft's default target for GPT-2 is c_attn
    bert = tiny_bert_classifier(50)  # nn.Linear projections: the default (False) is right
    assert not targets_conv1d(bert, ["query", "value"]) and not targets_conv1d(bert, None)
    assert not targets_conv1d(gpt2, ["no_such_module"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


LAUNCHERS = {
    # accelerate's --multi_gpu starts N processes; on a machine without a GPU they use gloo
    "accelerate": lambda port: [
        str(Path(sys.executable).with_name("accelerate")),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        port,
    ],
    "torchrun": lambda port: [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        port,
    ],
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_two_processes_train_on_different_shards_and_end_identical(tmp_path, launcher):
    data = write_samples(tmp_path / "train.jsonl", *samples())
    out = tmp_path / "run"
    cmd = LAUNCHERS[launcher](free_port()) + [
        "-m",
        "llm4rec_utils.distributed",
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{k}.json").read_text()) for k in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["steps"] for r in ranks] == [3, 3]
    a, b = (set(r["seen"]) for r in ranks)
    assert len(a) == len(b) == 12 and not a & b  # each rank its own shard: 3 steps x 4 samples
    assert ranks[0]["global_batch"] == 8
    assert ranks[0]["final_digest"] == ranks[1]["final_digest"]  # gradients were averaged
    assert ranks[0]["final_digest"] != ranks[0]["initial_digest"]  # and training moved them
    assert (out / "adapter" / "adapter_config.json").exists()
