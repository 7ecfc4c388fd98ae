"""A user's own DDP script (examples/ddp_train.py) under real torchrun, writing through the client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.runs import JsonlTail, RunDir, create_run, read_events

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ddp_train.py"
TIMEOUT = 240.0

pytestmark = pytest.mark.slow


def _torchrun(run: RunDir, *script_args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "WORKBENCH_RUN_DIR": str(run.path.resolve()),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", "--max-restarts", "0",
        str(EXAMPLE), *script_args,
    ]
    return subprocess.Popen(command, env=env, cwd=run.path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _records(run: RunDir, rank: int, kind: str) -> list[dict]:
    return [r for r in JsonlTail(run.metrics_path(rank)).read_new() if r.get("kind") == kind]


def test_stop_ends_the_ddp_example_with_its_checkpoint_and_every_rank_logged(tmp_path):
    run = create_run(tmp_path / "runs", "ddp", {"source": "script", "nproc": 2})
    process = _torchrun(run, "--steps", "100000")
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not all(
            any(r["step"] >= 10 for r in _records(run, rank, "train")) for rank in (0, 1)
        ):
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.1)
        (run.path / "stop").write_text("")  # what the workbench's Stop writes
        output, _ = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output

    for rank in (0, 1):
        losses = _records(run, rank, "train")
        memory = _records(run, rank, "memory")
        assert len(losses) >= 3 and all(r["rank"] == rank for r in losses)
        assert losses[-1]["loss"] < losses[0]["loss"]
        assert memory and memory[-1]["rss"] > 0 and memory[-1]["param_bytes"] == 4 * 4353
        assert memory[-1]["optim_bytes"] > 0
    events = read_events(run)
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "created" and kinds.count("started") == 1 and kinds[-1] == "stopped"
    stopped = events[-1]
    assert stopped["reason"] == "stop file"
    assert stopped["checkpoint"] and Path(stopped["checkpoint"]).is_file()
    saved = next(e for e in events if e["kind"] == "checkpoint")
    assert saved["step"] == stopped["step"] and saved["path"] == stopped["checkpoint"]
    # Both ranks left the loop at the same step: neither logged past it.
    assert max(r["step"] for r in _records(run, 1, "train")) <= stopped["step"]


def test_a_rank_that_raises_is_named_with_its_traceback(tmp_path):
    run = create_run(tmp_path / "runs", "ddp-fail", {"source": "script", "nproc": 2})
    process = _torchrun(run, "--steps", "50", "--fail-on-rank", "1")
    output, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode != 0
    errors = [e for e in read_events(run) if e["kind"] == "error"]
    assert errors and errors[0]["rank"] == 1, (errors, output)
    assert errors[0]["message"] == "RuntimeError: rank 1 gave up on purpose"
    assert "ddp_train.py" in errors[0]["traceback"] and "gave up on purpose" in errors[0]["traceback"]
    # Launched with WORKBENCH_RUN_DIR the launcher's supervisor records "failed", not the script.
    assert not any(e["kind"] == "failed" for e in read_events(run))


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
