"""Runs launched on a remote host over a real SSH connection (an in-process server on 127.0.0.1).

The "remote" host is this machine: the test server runs each command with
bash here, and its working folder is a temporary folder. The run is started
by the host's own launch service, and mirrored into the local runs folder.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from backends import launch
from backends.remote.mirror import follow
from backends.remote.record import read_remote
from backends.runs import RunDir
from workbench.cli import main

pytestmark = pytest.mark.slow
TINY = ["--set", "model_config.n_layer=1", "--set", "model_config.n_embd=16", "--set",
        "model_config.block_size=16", "--set", "batch_size=4", "--set", "eval_every=0"]


def _start(capsys, runs: Path, host: str, *sets: str) -> RunDir:
    capsys.readouterr()
    assert main(["train", "gpt-tiny", "--host", host, "--detach", "--json", "--runs-dir", str(runs),
                 *TINY, *sets]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return RunDir(Path(out["run_dir"]))


def _steps(path: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, path.read_text().splitlines()) if r.get("kind") == "train"]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _assert_mirror_equal(run: RunDir, ranks: int) -> Path:
    remote = Path(read_remote(run)["remote_run_dir"])
    for rank in range(ranks):
        local_file, remote_file = run.metrics_path(rank), remote / "metrics" / f"rank_{rank}.jsonl"
        assert local_file.read_bytes() == remote_file.read_bytes(), f"rank {rank} differs"
        steps = _steps(local_file)
        assert steps == list(range(steps[0], steps[0] + len(steps))), "a gap or a duplicate step"
    base = read_remote(run)["events_base"]
    assert run.events_path.read_bytes()[base:] == (remote / "events.jsonl").read_bytes()
    return remote


def test_ddp_run_on_a_host_is_mirrored_through_a_dropped_connection(remote_host, ssh_server,
                                                                    tmp_path, capsys):
    remote_host("lab")
    runs = tmp_path / "runs"
    run = _start(capsys, runs, "lab", "--set", "strategy=ddp", "--set", "nproc=2",
                 "--set", "steps=80", "--set", "checkpoint_every=40", "--set", "sample_every=40")
    record = read_remote(run)
    assert record["host"] == "lab" and record["remote_run_dir"] != str(run.path)
    assert "key" not in json.dumps({k: v for k, v in record.items() if k != "host_config"})
    listed = {r.name: r for r in launch.list_runs(runs)}
    assert listed[run.name].status == "running" and "on lab" in (listed[run.name].reason or "")

    links: list[str] = []
    result: dict[str, str] = {}
    stop = threading.Event()
    worker = threading.Thread(target=lambda: result.update(
        status=follow(run, interval=0.2, state_every=1.0, stop=stop, on_link=lambda s, d: links.append(s))),
        name="workbench-test-follow")
    worker.start()
    try:
        remote_rank0 = Path(record["remote_run_dir"]) / "metrics" / "rank_0.jsonl"
        _wait_for(lambda: run.metrics_path(0).exists() and len(_steps(run.metrics_path(0))) >= 3,
                  180, "the first mirrored steps")
        # The network goes away mid-run, and stays away while the run trains on.
        ssh_server.refusing = True
        ssh_server.drop_all()
        _wait_for(lambda: "reconnecting" in links, 30, "the follower to notice")
        assert "reconnecting" in launch.run_state(run).reason
        mirrored = len(_steps(run.metrics_path(0)))
        _wait_for(lambda: len(_steps(remote_rank0)) >= mirrored + 5, 120, "the run to train on")
        ssh_server.refusing = False
        worker.join(300)
        assert not worker.is_alive()
    finally:
        ssh_server.refusing = False
        stop.set()
        worker.join(30)
    assert result["status"] == "finished" and links[-1] == "connected"
    assert links.count("reconnecting") >= 1
    _assert_mirror_equal(run, 2)
    assert _steps(run.metrics_path(0))[-1] == 80 and _steps(run.metrics_path(1))[-1] == 80
    assert launch.run_state(run).status == "finished"
    remote_samples = Path(record["remote_run_dir"]) / "samples"
    assert sorted(p.name for p in run.samples_dir.iterdir()) == sorted(p.name for p in remote_samples.iterdir())


def test_stop_over_ssh_ends_stopped_with_a_checkpoint(remote_host, tmp_path, capsys):
    remote_host("lab")
    runs = tmp_path / "runs"
    run = _start(capsys, runs, "lab", "--set", "steps=100000", "--set", "checkpoint_every=100000")
    remote = Path(read_remote(run)["remote_run_dir"])
    _wait_for(lambda: (remote / "metrics" / "rank_0.jsonl").exists()
              and len(_steps(remote / "metrics" / "rank_0.jsonl")) >= 3, 180, "training to start")
    capsys.readouterr()
    assert main(["runs", run.name, "--stop", "--runs-dir", str(runs)]) == 0
    assert "stopped" in capsys.readouterr().out
    assert follow(run, interval=0.2, state_every=0.5) == "stopped"
    state = launch.run_state(run)
    assert state.status == "stopped" and state.checkpoint and "step_" in state.checkpoint
    assert Path(state.checkpoint).parent == remote / "checkpoints" and Path(state.checkpoint).is_dir()
    _assert_mirror_equal(run, 1)
    # The checkpoint is listed from the host and fetched on demand, whole.
    capsys.readouterr()
    assert main(["runs", run.name, "--checkpoints", "--json", "--runs-dir", str(runs)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["step"] for c in listed] == [state.step] and not listed[0]["here"]
    assert main(["runs", run.name, "--fetch", str(state.step), "--runs-dir", str(runs)]) == 0
    assert [c.step for c in launch.list_checkpoints(run)] == [state.step]
    fetched = launch.list_checkpoints(run)[0].path
    assert sorted(p.name for p in fetched.rglob("*")) == sorted(p.name for p in Path(state.checkpoint).rglob("*"))
    # The run's own line asks the host once (and brings the copy up to date).
    capsys.readouterr()
    assert main(["runs", run.name, "--json", "--runs-dir", str(runs)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "stopped"
    # Stopping it again is refused in one line.
    assert main(["runs", run.name, "--stop", "--runs-dir", str(runs)]) == 2


def test_slurm_host_submits_with_sbatch_and_scancel_ends_the_job(remote_host, ssh_server, tmp_path,
                                                                capsys):
    """A Slurm host, exercised with stand-ins for ``sbatch``/``squeue``/``scancel`` (and
    ``scontrol``/``srun``) on the remote PATH that run the job script on this machine:
    no Slurm cluster here. The script itself is the workbench's exported one."""
    from backends.launch.commands import free_port

    remote_host("cluster", kind="slurm")
    runs = tmp_path / "runs"
    run = _start(capsys, runs, "cluster", "--set", "steps=100000", "--set", "checkpoint_every=100000",
                 "--set", f"rdzv_endpoint=127.0.0.1:{free_port()}")
    record = read_remote(run)
    assert record["kind"] == "slurm" and record["job_id"].isdigit()
    remote = Path(record["remote_run_dir"])
    assert (remote / "logs" / "job.sbatch").read_text().startswith("#!/bin/bash\n#SBATCH")
    _wait_for(lambda: (remote / "metrics" / "rank_0.jsonl").exists()
              and len(_steps(remote / "metrics" / "rank_0.jsonl")) >= 3, 180, "the job to train")
    capsys.readouterr()
    assert main(["runs", run.name, "--kill", "--runs-dir", str(runs)]) == 0  # scancel
    status = follow(run, interval=0.2, state_every=0.5)
    assert status in ("stopped", "killed"), status  # scancel sends SIGTERM first: ranks checkpoint
    _assert_mirror_equal(run, 1)


def test_a_run_stopped_over_ssh_resumes_on_its_host_to_the_end(remote_host, tmp_path, capsys):
    """Stop over SSH, then ``workbench train RUN --resume``: the host continues from the stop's
    checkpoint (step S) with step S + 1, so the mirror holds every step once, equal to the host's."""
    remote_host("lab")
    runs = tmp_path / "runs"
    run = _start(capsys, runs, "lab", "--set", "steps=100000", "--set", "checkpoint_every=100000")
    remote_rank0 = Path(read_remote(run)["remote_run_dir"]) / "metrics" / "rank_0.jsonl"
    _wait_for(lambda: remote_rank0.exists() and len(_steps(remote_rank0)) >= 3, 180, "training to start")
    assert main(["runs", run.name, "--stop", "--runs-dir", str(runs)]) == 0
    assert follow(run, interval=0.2, state_every=0.5) == "stopped"
    stopped_at = launch.run_state(run).step
    end = stopped_at + 6
    capsys.readouterr()
    assert main(["train", run.name, "--resume", "--set", f"steps={end}", "--json",
                 "--runs-dir", str(runs)]) == 0
    captured = capsys.readouterr()
    assert f"from the checkpoint of step {stopped_at}" in captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["step"] == end, summary
    _assert_mirror_equal(run, 1)
    assert _steps(run.metrics_path(0)) == list(range(1, end + 1))  # every step once, to the end
    events = [json.loads(line) for line in run.events_path.read_text().splitlines()]
    assert [e["step"] for e in events if e.get("kind") == "resumed"] == [stopped_at]
    assert [e["kind"] for e in events if e.get("kind") in ("stopped", "finished")] == ["stopped", "finished"]
    assert launch.run_state(run).status == "finished" and read_remote(run)["state"]["status"] == "finished"
