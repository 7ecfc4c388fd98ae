"""Command building and process control: what a GUI and a terminal user rely on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from backends import launch
from backends.runs import create_run, read_events, status_from_events
from backends.train.config import TrainConfig


def config(**values) -> TrainConfig:
    return TrainConfig.from_dict({"model": "gpt", "strategy": "ddp", "nproc": 2, "device": "cpu",
                                  "model_config": {"block_size": 8, "n_layer": 1, "n_head": 2,
                                                   "n_embd": 8}, **values})


def test_single_node_command_is_torchrun_from_this_python_on_loopback(tmp_path):
    command = launch.build_command(config(), tmp_path / "r")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    # The workbench's own rendezvous: the store binds 127.0.0.1 at a port the kernel picks.
    assert command[command.index("--rdzv-backend") + 1] == "workbench-loopback"
    assert command[command.index("--rdzv-endpoint") + 1] == "127.0.0.1:0"
    assert launch.worker_env(config())["GLOO_SOCKET_IFNAME"] == "lo"
    assert command[command.index("--nproc-per-node") + 1] == "2"
    assert command[command.index("--log-dir") + 1] == str((tmp_path / "r" / "logs" / "torchrun").absolute())
    assert command[-4:] == ["-m", "backends.train", "--run-dir", str((tmp_path / "r").absolute())]
    assert launch.worker_env(config())["OMP_NUM_THREADS"] == "1"  # ranks share the CPU cores
    assert "OMP_NUM_THREADS" not in launch.worker_env(config(strategy="single", nproc=1))
    line = launch.shell_line(command, {"OMP_NUM_THREADS": "1"})
    assert line.startswith("OMP_NUM_THREADS=1 ") and "torch.distributed.run" in line


def test_free_port_is_bindable():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", launch.free_port()))


def test_multi_node_commands_share_one_rendezvous_hosted_by_node_0(tmp_path):
    cfg = config(nnodes=3, rdzv_endpoint="head.cluster:29400")
    commands = launch.build_node_commands(cfg, tmp_path)
    assert len(commands) == 3
    for node, command in enumerate(commands):
        assert command[command.index("--rdzv-endpoint") + 1] == "head.cluster:29400"
        assert command[command.index("--nnodes") + 1] == "3"
        assert command[command.index("--node-rank") + 1] == str(node)
        assert command[command.index("--rdzv-conf") + 1] == f"is_host={'true' if node == 0 else 'false'}"


def test_slurm_script_runs_torchrun_on_every_node(tmp_path):
    script = launch.build_slurm_script(config(nnodes=2, nproc=4, device="auto"), tmp_path,
                                       partition="gpu")
    assert script.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --partition=gpu"):
        assert line in script
    assert '--rdzv-endpoint "${HEAD}":29500' in script and '--rdzv-id "${SLURM_JOB_ID}"' in script
    assert "GLOO_SOCKET_IFNAME" not in script  # several nodes talk over the network
    assert "srun" in script and "backends.train" in script
    path = tmp_path / "job.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0  # valid shell


def _sleeper(run_path, handle_term: bool = False) -> subprocess.Popen:
    code = "import time, signal, sys\n"
    if handle_term:
        code += "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    code += "print('up', flush=True)\ntime.sleep(60)\n"
    process = subprocess.Popen([sys.executable, "-c", code, str(run_path)], stdout=subprocess.PIPE,
                               start_new_session=True)
    assert process.stdout.readline() == b"up\n"
    return process


def test_kill_ends_every_recorded_session_and_keeps_the_run(tmp_path):
    run = create_run(tmp_path, "r", {})
    workers = [_sleeper(run.path) for _ in range(2)]
    for rank, worker in enumerate(workers):
        launch.register_worker(run, rank, worker.pid)
    assert launch.is_alive(run)
    killed = launch.kill(run)
    assert sorted(killed) == sorted(w.pid for w in workers)
    for worker in workers:
        assert worker.wait(timeout=10) == -signal.SIGKILL
    assert not launch.is_alive(run)
    assert launch.run_state(run).status == "killed"  # not "stopped": that word means graceful
    assert status_from_events(read_events(run)) == "killed"
    assert read_events(run)[-1]["by"] == "user"


def test_a_reused_pid_is_not_mistaken_for_the_run(tmp_path):
    run = create_run(tmp_path, "r", {})
    stranger = _sleeper(tmp_path / "another-run")
    try:
        launch.register_worker(run, 0, stranger.pid)
        assert not launch.is_alive(run)
        assert launch.kill(run) == []  # and it is not killed
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_writes_the_stop_file_then_sends_sigterm_to_the_launcher(tmp_path):
    run = create_run(tmp_path, "r", {})
    launcher = _sleeper(run.path, handle_term=True)
    from backends.launch.ownership import locked_info

    with locked_info(run) as info:
        info["launcher_pid"] = launcher.pid
    start = time.monotonic()
    launch.stop(run, sigterm_after=0.3)
    assert (run.path / launch.STOP_FILE).is_file()
    assert launcher.wait(timeout=10) == 0  # it got SIGTERM and exited cleanly
    assert time.monotonic() - start >= 0.3
    assert not launch.is_alive(run)


def test_failures_name_the_killed_rank_over_peers_that_lost_their_connection(tmp_path):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    peer_error = tmp_path / "error.json"
    peer_error.write_text(
        '{"message": {"message": "DistBackendError: Connection closed by peer", '
        '"extraInfo": {"py_callstack": "Traceback ...", "timestamp": "1"}}}'
    )
    failures = {
        0: ProcessFailure(local_rank=0, pid=10, exitcode=1, error_file=str(peer_error)),
        1: ProcessFailure(local_rank=1, pid=11, exitcode=-9, error_file="<N/A>"),
    }
    log = tmp_path / "logs" / "x_1" / "attempt_0" / "1"
    log.mkdir(parents=True)
    (log / "stderr.log").write_text("rank 1/2 starting\nworking\n")
    report = launch.describe_failures(failures, tmp_path / "logs")
    assert (report["rank"], report["exit_code"], report["signal"]) == (1, -9, "SIGKILL")
    assert report["log_tail"].endswith("working")
    assert [r["rank"] for r in report["ranks"]] == [1, 0]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
def test_launcher_starts_in_its_own_session(tmp_path, monkeypatch):
    started = {}

    class FakePopen:
        def __init__(self, argv, **kwargs):
            started.update(kwargs, argv=argv)
            self.pid = 424242

        def poll(self):
            return 0

    from backends.launch import control

    monkeypatch.setattr(control.subprocess, "Popen", FakePopen)
    run = create_run(tmp_path, "r", {})
    info = launch.start(run, config())
    assert started["start_new_session"] is True
    assert started["argv"][1:3] == ["-m", "backends.train.supervise"]
    assert started["env"]["OMP_NUM_THREADS"] == "1"
    recorded = launch.read_run_info(run)
    assert recorded["launcher_pid"] == info.pid == 424242
    assert recorded["command"] == info.command and "127.0.0.1:0" in recorded["shell"]
