"""A multi-process run's life: stopped by SIGTERM and resumed, a rank killed, two nodes on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from distributed_support import RUN_TIMEOUT, finish, rank_losses, start, tiny_gpt, wait_for_step

from backends import launch
from backends.checkpoint import list_checkpoints
from backends.runs import create_run, read_events, status_from_events, write_toml_atomic
from backends.train.config import TrainConfig
from backends.train.loop import run_training

pytestmark = pytest.mark.slow


def test_sigterm_checkpoints_and_the_resumed_run_continues_exactly(tmp_path):
    # A fixed schedule length, so stopping and extending the run keep the same learning rates.
    config = tiny_gpt(strategy="ddp", nproc=2, steps=100_000, decay_steps=1000, name="stoppable")
    info = start(tmp_path, config)
    wait_for_step(info.run, 3, ranks=(0, 1))
    os.kill(info.pid, signal.SIGTERM)  # what a terminal's kill, or Slurm at the time limit, sends
    assert finish(info) == "stopped"
    stopped = [e for e in read_events(info.run) if e["kind"] == "stopped"][-1]
    saved = list_checkpoints(info.run.checkpoints_dir)
    assert saved and stopped["checkpoint"] == str(saved[-1])
    step = stopped["step"]
    assert step >= 3 and saved[-1].name == f"step_{step:07d}"
    assert not launch.is_alive(info.run)

    # Resume in place for three more steps ...
    resumed = TrainConfig.from_dict({**config.to_dict(), "steps": step + 3, "resume": str(info.run.path)})
    write_toml_atomic(info.run.config_path, resumed.to_dict())
    again = launch.start(info.run, resumed)
    assert finish(again) == "finished"
    losses = rank_losses(info.run)
    assert sorted(losses) == list(range(1, step + 4))  # no step lost, none repeated
    # ... and compare with one uninterrupted process on the same global batches.
    single = TrainConfig.from_dict({**config.to_dict(), "strategy": "single", "nproc": 1, "steps": step + 3})
    reference = create_run(tmp_path, "uninterrupted", single.to_dict())
    run_training(reference, single)
    assert losses == pytest.approx(rank_losses(reference), rel=1e-5)


def test_kill_9_of_one_rank_marks_the_run_failed_with_that_rank(tmp_path):
    info = start(tmp_path, tiny_gpt(strategy="ddp", nproc=2, steps=100_000, name="doomed"))
    wait_for_step(info.run, 2, ranks=(0, 1))
    victim = launch.read_run_info(info.run)["workers"]["1"]["pid"]
    os.kill(victim, signal.SIGKILL)
    assert finish(info) == "failed"
    failed = [e for e in read_events(info.run) if e["kind"] == "failed"][-1]
    assert failed["rank"] == 1
    assert failed["exit_code"] == -signal.SIGKILL
    assert failed["signal"] == "SIGKILL"
    assert "rank 1/2" in (failed["log_tail"] or "")  # the rank's own stderr, for the dialog
    assert not launch.is_alive(info.run)  # no orphaned rank keeps running


def test_two_nodes_on_loopback_train_and_finish(tmp_path):
    config = tiny_gpt(strategy="ddp", nproc=1, nnodes=2, name="two-nodes",
                      rdzv_endpoint=f"127.0.0.1:{launch.free_port()}")
    run = create_run(tmp_path, config.name, config.to_dict())
    commands = launch.build_node_commands(config, run.path)
    assert len(commands) == 2 and all("--nnodes" in c and "2" in c for c in commands)
    env = {**os.environ, **launch.worker_env(config)}
    nodes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in commands]
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        for node in nodes:
            node.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    assert [n.returncode for n in nodes] == [0, 0], nodes[0].stderr.read()[-2000:]
    assert status_from_events(read_events(run)) == "finished"
    assert sorted(run.metrics_files()) == [0, 1]
