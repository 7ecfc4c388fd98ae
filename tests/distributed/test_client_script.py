"""A user's own DDP script (examples/ddp_train.py) under real torchrun, writing through the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from backends.runs import JsonlTail, RunDir, read_events

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ddp_train.py"
TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def workbench(runs: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(runs), *args],
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=ROOT)


def _records(run: RunDir, rank: int, kind: str) -> list[dict]:
    return [r for r in JsonlTail(run.metrics_path(rank)).read_new() if r.get("kind") == kind]


def _state(runs: Path, name: str) -> dict:
    listed = workbench(runs, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    return {r["name"]: r for r in json.loads(listed.stdout)}[name]


def test_the_ddp_example_launched_by_the_workbench_finishes_with_every_rank_logged(tmp_path):
    runs = tmp_path / "runs"
    result = workbench(runs, "train", "--script", str(EXAMPLE), "--set", "strategy=ddp",
                       "--set", "nproc=2", "--json", "--", "--steps", "30")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "finished" and summary["ranks"] == [0, 1]
    run = RunDir(Path(summary["run_dir"]))
    for rank in (0, 1):
        losses, memory = _records(run, rank, "train"), _records(run, rank, "memory")
        assert len(losses) >= 3 and losses[-1]["step"] == 30 and all(r["rank"] == rank for r in losses)
        assert memory and memory[-1]["rss"] > 0 and memory[-1]["param_bytes"] == 4 * 4353
    config = tomllib.loads(run.config_path.read_text())
    assert config["script"] == str(EXAMPLE) and config["args"] == ["--steps", "30"]
    assert config["cwd"] == str(ROOT) and len(config["script_sha256"]) == 64
    assert _state(runs, run.name)["status"] == "finished"


def test_stop_ends_the_ddp_example_with_its_checkpoint_and_every_rank_logged(tmp_path):
    runs = tmp_path / "runs"
    started = workbench(runs, "train", "--script", str(EXAMPLE), "--set", "strategy=ddp",
                        "--set", "nproc=2", "--set", "name=ddp", "--detach", "--json", "--",
                        "--steps", "100000")
    assert started.returncode == 0, started.stderr
    run = RunDir(Path(json.loads(started.stdout)["run_dir"]))
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not all(
            any(r["step"] >= 10 for r in _records(run, rank, "train")) for rank in (0, 1)
        ):
            time.sleep(0.1)
        assert _state(runs, "ddp")["status"] == "running"  # the client holds the run while it trains
        stopped = workbench(runs, "runs", "ddp", "--stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
    finally:
        from backends import launch

        if launch.is_alive(run):
            launch.kill(run)
    for rank in (0, 1):
        losses = _records(run, rank, "train")
        memory = _records(run, rank, "memory")
        assert len(losses) >= 3 and all(r["rank"] == rank for r in losses)
        assert losses[-1]["loss"] < losses[0]["loss"]
        assert memory and memory[-1]["optim_bytes"] > 0
    events = read_events(run)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "created" and kinds.count("started") == 1 and kinds[-1] == "stopped"
    end = events[-1]
    assert end["checkpoint"] and Path(end["checkpoint"]).is_file()  # the script's own checkpoint
    saved = next(e for e in events if e["kind"] == "checkpoint")
    assert saved["step"] == end["step"] and saved["path"] == end["checkpoint"]
    # Both ranks left the loop at the same step: neither logged past it.
    assert max(r["step"] for r in _records(run, 1, "train")) <= end["step"]
    assert _state(runs, "ddp")["status"] == "stopped"


def test_a_rank_that_raises_is_named_with_its_traceback(tmp_path):
    runs = tmp_path / "runs"
    result = workbench(runs, "train", "--script", str(EXAMPLE), "--set", "strategy=ddp",
                       "--set", "nproc=2", "--json", "--", "--steps", "50", "--fail-on-rank", "1")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    failure = summary["failure"]
    assert summary["status"] == "failed" and failure["rank"] == 1, summary
    assert "rank 1 gave up on purpose" in failure["message"]
    assert "ddp_train.py" in (failure["traceback"] or failure["log_tail"] or "")
    state = _state(runs, Path(summary["run_dir"]).name)
    assert state["status"] == "failed" and state["reason"].startswith("rank 1 failed")


def _run_example(name: str, *args: str, cwd: Path, env: dict[str, str] | None = None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {}),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    env.pop("WORKBENCH_RUN_DIR", None)
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_the_tensorboard_example_is_read_as_a_run(tmp_path):
    pytest.importorskip("tensorboard")
    from backends.runs import list_runs
    from backends.tensorboard.reader import TensorBoardReader

    result = _run_example("tensorboard_only.py", "--logdir", "runs/tb", "--steps", "50",
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [summary] = list_runs(tmp_path / "runs")
    assert summary.name == "tb" and summary.source == "tensorboard"
    records = TensorBoardReader(tmp_path / "runs" / "tb", write_samples=False).read_records()
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 51))
    assert [r["step"] for r in records if r["kind"] == "val"] == [50]


def test_the_hf_example_runs_as_a_workbench_run(tmp_path):
    pytest.importorskip("accelerate")
    pytest.importorskip("transformers")
    result = _run_example("hf_finetune.py", "--steps", "3", "--output-dir", "out", cwd=tmp_path,
                          env={"WORKBENCH_RUNS_DIR": "runs"})
    assert result.returncode == 0, result.stderr
    run = RunDir(tmp_path / "runs" / "hf-llama-tiny")
    assert [r["step"] for r in _records(run, 0, "train")] == [1, 2, 3]
    assert _records(run, 0, "memory")[-1]["param_bytes"] > 0
    assert read_events(run)[-1]["kind"] == "finished"
