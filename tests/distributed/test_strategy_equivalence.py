"""Every strategy learns exactly what one process learns from the same global batches.

For DDP, FSDP and TP (2 processes, gloo) and FSDP x TP (4 processes), K
optimizer steps give the same parameters as single-process training, and the
same loss at every step. One torchrun launch per strategy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from distributed_support import (
    assert_same_weights,
    final_weights,
    finish,
    rank_losses,
    start,
    tiny_gpt,
)

from backends.runs import RunDir, create_run
from backends.train.config import TrainConfig
from backends.train.loop import run_training

pytestmark = pytest.mark.slow


def _single(runs_dir: Path, config: TrainConfig) -> RunDir:
    config = TrainConfig.from_dict({**config.to_dict(), "strategy": "single", "nproc": 1, "tp": 0})
    run = create_run(runs_dir, "reference", config.to_dict())
    run_training(run, config)
    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return _single(runs, tiny_gpt())


@pytest.mark.parametrize(
    ("strategy", "nproc", "tp"),
    [("ddp", 2, 0), ("tp", 2, 0), ("fsdp_tp", 4, 2)],
)
def test_strategy_matches_single_process(strategy, nproc, tp, reference, tmp_path):
    info = start(tmp_path, tiny_gpt(strategy=strategy, nproc=nproc, tp=tp))
    assert finish(info) == "finished", (info.run.path / "events.jsonl").read_text()
    ranks = sorted(info.run.metrics_files())
    assert ranks == list(range(nproc))  # every rank wrote its own metrics
    expected = rank_losses(reference)
    for rank in ranks:  # all ranks report the loss of the whole global batch
        got = rank_losses(info.run, rank)
        assert sorted(got) == sorted(expected)
        assert got == pytest.approx(expected, rel=1e-5)
    assert_same_weights(final_weights(info.run), final_weights(reference))


def test_cli_fsdp_run_matches_single_process(tmp_path):
    """The command from the issue: gpt-tiny, FSDP on 2 processes, 20 steps, JSON summary."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "--runs-dir", str(tmp_path), "train", "gpt-tiny",
         "--set", "strategy=fsdp", "--set", "nproc=2", "--set", "steps=20", "--json"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "finished"
    assert summary["ranks"] == [0, 1]
    run = RunDir(Path(summary["run_dir"]))
    for rank in (0, 1):
        records = [json.loads(line) for line in run.metrics_path(rank).read_text().splitlines()]
        memory = [r for r in records if r["kind"] == "memory"]
        assert memory and memory[-1]["param_bytes"] > 0 and memory[-1]["rss"] > 0
        assert max(r["step"] for r in records if r["kind"] == "train") == 20
    # FSDP shards parameters: each rank holds about half of them.
    full = sum(t.numel() * t.element_size() for t in final_weights(run).values())
    rank0 = [json.loads(line) for line in run.metrics_path(0).read_text().splitlines()]
    assert max(r["param_bytes"] for r in rank0 if r["kind"] == "memory") < 0.75 * full

    from resources import resource_path

    preset = TrainConfig.from_toml(str(resource_path("presets", "gpt-tiny.toml")))
    reference = _single(tmp_path, preset.with_overrides(["steps=20"]))
    assert summary["final_loss"] == pytest.approx(rank_losses(reference)[20], rel=1e-5)
    assert_same_weights(final_weights(run), final_weights(reference))
