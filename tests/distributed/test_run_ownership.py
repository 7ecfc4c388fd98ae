"""One owner per run, states that tell the truth, no orphans, no listener off loopback.

Real torchrun processes with gloo on CPU, started through the launch service
(and, where the user would, through the ``workbench`` command).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from distributed_support import RUN_TIMEOUT, finish, rank_losses, start, tiny_gpt, wait_for_step

from backends import launch
from backends.runs import RunDir, read_events

pytestmark = pytest.mark.slow


def workbench(runs_dir: Path, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(runs_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def listed(runs_dir: Path) -> dict[str, dict]:
    result = workbench(runs_dir, "runs", "--json")
    assert result.returncode == 0, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


def _gone(pid: int) -> bool:
    """Dead or a zombie (reaping is slow here): ``ps -o stat=`` says so."""
    out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return out.returncode != 0 or out.stdout.strip().startswith("Z")


def test_a_second_resume_of_a_live_run_is_refused_and_kill_reads_killed(tmp_path):
    info = start(tmp_path, tiny_gpt(strategy="ddp", nproc=2, steps=100_000, checkpoint_every=2,
                                    name="busy"))
    try:
        wait_for_step(info.run, 4, ranks=(0, 1))
        with pytest.raises(launch.RunBusyError) as refused:
            launch.resume(info.run.path)
        message = str(refused.value)
        assert f"launcher pid {info.pid}" in message and "rank 1 pid" in message and "--stop" in message
        cli = workbench(tmp_path, "train", "busy", "--resume", "--detach")
        assert cli.returncode == 2 and "still running" in cli.stderr and "Traceback" not in cli.stderr
        assert launch.read_run_info(info.run)["launcher_pid"] == info.pid  # Stop and Kill still reach it
        assert listed(tmp_path)["busy"]["status"] == "running"
    finally:
        launch.kill(info.run)
    assert launch.wait(info, timeout=30) == "killed"
    events = read_events(info.run)
    assert [e["kind"] for e in events].count("started") == 1  # nobody else started in the folder
    steps = sorted(rank_losses(info.run))
    assert steps == list(range(1, steps[-1] + 1))  # one writer: no step repeated or going back
    killed = listed(tmp_path)["busy"]
    assert killed["status"] == "killed" and "resume starts from the checkpoint of step" in killed["reason"]


def test_kill_9_of_the_launcher_ends_every_rank_and_the_run_reads_killed(tmp_path):
    info = start(tmp_path, tiny_gpt(strategy="ddp", nproc=2, steps=100_000, name="orphans"))
    wait_for_step(info.run, 2, ranks=(0, 1))
    workers = [w["pid"] for w in launch.read_run_info(info.run)["workers"].values()]
    assert len(workers) == 2
    os.kill(info.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    while not all(_gone(pid) for pid in workers) and time.monotonic() - killed_at < 10:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "ranks outlived their launcher"
    assert time.monotonic() - killed_at < 5.0
    info.process.wait(timeout=10)
    state = listed(tmp_path)["orphans"]
    assert state["status"] in ("killed", "lost")
    assert state["status"] == launch.run_state(info.run).status


def test_resume_after_a_kill_during_a_checkpoint_write_uses_the_previous_one(tmp_path):
    # A model big enough that a checkpoint write takes a moment; one every step.
    config = tiny_gpt(strategy="single", nproc=1, steps=100_000, checkpoint_every=1, keep_checkpoints=50,
                      name="torn", model_config={"block_size": 16, "n_layer": 4, "n_head": 4, "n_embd": 128})
    info = start(tmp_path, config)
    wait_for_step(info.run, 2)
    folder = info.run.checkpoints_dir
    deadline = time.monotonic() + RUN_TIMEOUT
    torn: list[Path] = []
    while not torn and time.monotonic() < deadline:
        torn = [p for p in folder.iterdir() if p.name.startswith(".tmp_")]
    launch.kill(info.run)  # SIGKILL, mid-write when the loop above caught a .tmp_ folder
    launch.wait(info, timeout=30)
    complete = launch.list_checkpoints(info.run)
    assert complete and all(not c.path.name.startswith(".") for c in complete)
    leftover = [p for p in folder.iterdir() if p.name.startswith(".tmp_")]
    latest = complete[-1].step
    for tmp in leftover:  # an interrupted write is newer than every complete checkpoint
        assert int(tmp.name.rsplit("_", 1)[1]) > latest
    again = launch.resume(info.run.path, overrides=[f"steps={latest + 2}"])
    assert again.resumed_from == latest
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp_")]
    assert finish(again) == "finished"
    resumed = [e for e in read_events(info.run) if e["kind"] == "resumed"][-1]
    assert resumed["step"] == latest


def test_stop_reads_stopped_and_resume_of_a_finished_run_needs_more_steps(tmp_path):
    info = start(tmp_path, tiny_gpt(strategy="ddp", nproc=2, steps=100_000, name="graceful"))
    wait_for_step(info.run, 2, ranks=(0, 1))
    launch.stop(info.run, sigterm_after=20.0)
    assert launch.wait(info, timeout=RUN_TIMEOUT) == "stopped"
    step = read_events(info.run)[-1]["step"]
    assert listed(tmp_path)["graceful"]["status"] == "stopped"
    again = launch.resume(info.run.path, overrides=[f"steps={step + 1}"])
    assert again.resumed_from == step and finish(again) == "finished"
    with pytest.raises(launch.LaunchError, match="raise steps"):
        launch.resume(info.run.path)
    cli = workbench(tmp_path, "train", "graceful", "--resume")
    assert cli.returncode == 2 and "raise steps" in cli.stderr and "Traceback" not in cli.stderr
    assert [e["kind"] for e in read_events(info.run)].count("finished") == 1


def _listening_sockets() -> dict[int, str]:
    """inode -> local address of every listening TCP socket (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    found[int(fields[9])] = fields[1]
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket tables")
def test_every_listening_socket_of_a_single_node_run_is_on_loopback(tmp_path):
    info = start(tmp_path, tiny_gpt(strategy="ddp", nproc=2, steps=100_000, name="private"))
    try:
        wait_for_step(info.run, 2, ranks=(0, 1))
        pids = [info.pid] + [w["pid"] for w in launch.read_run_info(info.run)["workers"].values()]
        listening = _listening_sockets()
        mine = {inode: listening[inode] for pid in pids for inode in _socket_inodes(pid)
                if inode in listening}
        assert len(mine) >= 3  # the store, and each rank's collective listener
        loopback = ("0100007F", "00000000000000000000000001000000")  # 127.0.0.1, ::1
        off_loopback = [address for address in mine.values() if address.split(":")[0] not in loopback]
        assert off_loopback == [], f"listening beyond loopback: {off_loopback}"
    finally:
        launch.kill(info.run)
        launch.wait(info, timeout=30)


def test_the_printed_torchrun_command_run_as_printed_finishes_the_run(tmp_path):
    printed = workbench(tmp_path, "train", "gpt-tiny", "--set", "strategy=ddp", "--set", "nproc=2",
                        "--set", "steps=6", "--set", "name=by-hand", "--print-command", "torchrun")
    assert printed.returncode == 0, printed.stderr
    assert listed(tmp_path)["by-hand"]["status"] == "created"
    line = printed.stdout.strip()
    ran = subprocess.run(["bash", "-c", line], cwd="/", capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert listed(tmp_path)["by-hand"]["status"] == "finished"
    assert sorted(RunDir(tmp_path / "by-hand").metrics_files()) == [0, 1]


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged user and mount namespaces")
def test_disk_full_is_one_line_up_front_and_a_failed_event_during_a_run(tmp_path):
    """A real full disk: a small tmpfs mounted in a private mount namespace holds the runs folder."""
    runs = tmp_path / "small-disk"
    runs.mkdir()
    python = sys.executable

    def in_small_disk(size: str, script: str) -> subprocess.CompletedProcess:
        shell = f"mount -t tmpfs -o size={size} tmpfs {runs} && {script}"
        return subprocess.run(["unshare", "-Urm", "bash", "-c", shell], capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)

    # 1. No room at all: refused before anything is created.
    full = in_small_disk("1m", f"head -c 1000000 /dev/zero > {runs}/filler; "
                         f"{python} -m workbench --runs-dir {runs} train gpt-tiny --set steps=5; "
                         f"echo rc=$?; ls -A {runs}")
    assert "rc=2" in full.stdout and "disk full" in full.stderr
    assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1
    assert full.stdout.split("rc=2")[1].split() == ["filler"]  # no run folder left behind

    # 2. Room to start, not to finish: once training runs, something else fills the disk up to
    # less than a checkpoint, and the next checkpoint meets a full disk.
    metrics = runs / "gpt-tiny" / "metrics" / "rank_0.jsonl"
    filler = (f"while [ ! -s {metrics} ]; do sleep 0.1; done; "
              f"head -c $(( $(df --output=avail -B1 {runs} | tail -1) - 600000 )) /dev/zero "
              f"> {runs}/filler")
    during = in_small_disk(
        "70m", f"({filler}) & {python} -m workbench --runs-dir {runs} train gpt-tiny "
        "--set steps=100000 --set checkpoint_every=5 --set keep_checkpoints=1000 --json; "
        f"cat {runs}/gpt-tiny/events.jsonl; ls -A {runs}/gpt-tiny/checkpoints")
    summary = json.loads(during.stdout.splitlines()[0])
    assert summary["status"] == "failed"
    assert summary["failure"]["rank"] == 0 and "disk full" in summary["failure"]["message"]
    assert not [n for n in during.stdout.split() if n.startswith(".tmp_")]  # nothing torn left


def test_a_foreground_run_shows_one_updating_progress_line_on_a_terminal(tmp_path):
    import pty

    args = [sys.executable, "-m", "workbench", "--runs-dir", str(tmp_path), "train", "gpt-tiny",
            "--set", "steps=40", "--set", "log_every=1", "--set", "sample_every=0"]
    master, slave = pty.openpty()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=RUN_TIMEOUT)
    os.close(master)
    terminal = seen.decode(errors="replace")
    updates = [part for part in terminal.split("\r") if part.startswith("step ")]
    assert updates, terminal
    assert "/40" in updates[-1] and "loss" in updates[-1]
    assert any("steps/s" in u and "ETA" in u for u in updates)
    assert out.startswith("finished:")  # the result itself goes to stdout
    piped = workbench(tmp_path, "train", "gpt-tiny", "--set", "steps=5", "--json")
    assert piped.returncode == 0 and "\r" not in piped.stderr
    assert [json.loads(line)["status"] for line in piped.stdout.splitlines()] == ["finished"]
