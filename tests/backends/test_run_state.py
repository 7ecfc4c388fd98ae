"""The run state the command line and the Monitor both show, and what reaches a shell."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from backends import launch
from backends.runs import RunDirError, check_free_space, create_run, record_event
from backends.train.config import TrainConfig


def runs_json(runs_dir) -> dict[str, dict]:
    result = subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(runs_dir), "runs",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


def test_a_broken_run_folder_never_hides_the_good_ones(tmp_path):
    good = create_run(tmp_path, "good", {"model": "gpt", "steps": 3})
    record_event(good, "started", step=0)
    record_event(good, "finished", step=3)
    latin = create_run(tmp_path, "latin1", {"model": "gpt"})
    latin.config_path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    bad_event = create_run(tmp_path, "bad-event", {"model": "vae"})
    bad_event.events_path.write_text('{"t": "yesterday", "kind": "created"}\nnot json\n')
    listed = runs_json(tmp_path)
    assert listed["good"]["status"] == "finished"
    assert listed["latin1"]["status"] == "unreadable" and "UTF-8" in listed["latin1"]["problem"]
    assert listed["bad-event"]["status"] == "created" and listed["bad-event"]["created"] is None
    text = subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(tmp_path), "runs"],
                          capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and "good" in text.stdout and "unreadable" in text.stdout


def test_a_run_with_no_end_and_no_process_reads_lost_everywhere(tmp_path):
    run = create_run(tmp_path, "vanished", {"model": "gpt"})
    record_event(run, "started", step=0)
    state = launch.run_state(run)
    assert state.status == "lost" and "resume" in state.reason
    assert runs_json(tmp_path)["vanished"]["status"] == "lost"


def test_a_rank_error_without_an_end_reads_failed_with_the_rank(tmp_path):
    run = create_run(tmp_path, "crashed", {"model": "gpt"})
    record_event(run, "started", step=0)
    record_event(run, "error", rank=1, message="disk full: OSError: [Errno 28] No space left")
    state = launch.run_state(run)
    assert state.status == "failed" and state.reason.startswith("rank 1: disk full")


@pytest.mark.parametrize("name", ["evil\n#SBATCH --wrap=touch PWNED", "x$(touch PWNED)",
                                  "a`touch PWNED`", "b;touch PWNED", "c d"])
def test_a_hostile_run_name_is_refused_on_every_path(tmp_path, name):
    config = TrainConfig.from_dict({"model": "gpt", "name": name})
    with pytest.raises(launch.LaunchError, match="not a valid run name"):
        launch.prepare(config, tmp_path)
    with pytest.raises(ValueError):
        launch.build_slurm_script(config, tmp_path / "r", job_name=name)
    result = subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(tmp_path), "train",
                             "gpt-tiny", "--set", f"name={json.dumps(name)}", "--print-command",
                             "slurm"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing prepared


def test_every_value_in_a_printed_command_or_script_is_quoted(tmp_path):
    """A folder path full of shell syntax reaches torchrun verbatim and runs nothing."""
    marker = tmp_path / "PWNED"
    folder = tmp_path / f"runs $(touch {marker}) `touch {marker}`;x\nnext" / "r"
    config = TrainConfig.from_dict({"model": "gpt", "strategy": "ddp", "nproc": 2, "nnodes": 2,
                                    "rdzv_endpoint": "node0:29500", "device": "auto"})
    script = launch.build_slurm_script(config, folder)
    stubs = tmp_path / "bin"
    stubs.mkdir()
    # Stand-ins for Slurm's commands: print the words srun was given, one per line.
    (stubs / "scontrol").write_text("#!/bin/sh\necho node0\n")
    (stubs / "srun").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    job = tmp_path / "job.sh"
    job.write_text(script)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "SLURM_JOB_ID": "77",
           "SLURM_JOB_NODELIST": "node0"}
    ran = subprocess.run(["bash", str(job)], capture_output=True, env=env, timeout=60)
    assert ran.returncode == 0, ran.stderr
    words = ran.stdout.decode().split("\0")[:-1]
    assert words[words.index("--run-dir") + 1] == str(folder.absolute())
    assert words[words.index("--rdzv-endpoint") + 1] == "node0:29500"
    assert words[words.index("--rdzv-id") + 1] == "77"
    assert not marker.exists()
    line = launch.shell_line(launch.build_command(config.with_overrides(["nnodes=1"]), folder),
                             launch.worker_env(config))
    assert shlex.split(line)[-1] == str(folder.absolute()) and not marker.exists()


def test_no_room_on_the_runs_disk_is_named_disk_full(tmp_path):
    with pytest.raises(RunDirError, match="disk full"):
        check_free_space(tmp_path, need=2**62)


def test_a_listed_line_takes_the_ending_and_newest_numbers_a_follower_read_since():
    from pathlib import Path

    from backends.launch import with_news
    from backends.runs import RunSummary

    listed = RunSummary("r", Path("r"), "running", 1.0, last_step=10, last_loss=2.0)
    assert with_news(listed, "failed", 1.5, 12).status == "failed"
    assert (with_news(listed, "running", 1.5, 12).last_loss, with_news(listed, "running", 1.5, 12)
            .last_step) == (1.5, 12)
    # The listing checked liveness: events alone never revive a run it found lost.
    lost = RunSummary("r", Path("r"), "lost", 1.0, last_step=10, last_loss=2.0)
    assert with_news(lost, "running", None, None) == lost
