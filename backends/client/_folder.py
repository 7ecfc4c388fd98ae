"""Which run folder a script writes to, and how the ranks of one launch agree on it.

Launched by the workbench, every rank finds ``WORKBENCH_RUN_DIR`` in its
environment: the folder exists already (config and ``created`` event). Started
by plain ``python`` or ``torchrun``, rank 0 creates a folder under the runs
folder (``WORKBENCH_RUNS_DIR``, else ``./runs``) and writes its path into a
claim file named after the launch; the other ranks wait for that file. The
launch is named by what torchrun gives every worker of one launch alike: the
rendezvous id, the store address and port, and (on one node) the agent's pid
and start time, so a claim left by an earlier launch is never taken.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.runs import DEFAULT_RUNS_DIR, RunDir, RunDirError, create_run

RUN_DIR_ENV = "WORKBENCH_RUN_DIR"
RUNS_DIR_ENV = "WORKBENCH_RUNS_DIR"
CLAIMS_DIR = ".workbench-claims"
CLAIM_WAIT_S = 300.0


def dist_env() -> tuple[int, int, int]:
    """``(rank, world_size, local_world_size)`` from torchrun's environment (1 process without)."""
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return rank, world, local_world


def default_name() -> str:
    """The script's file name without ``.py``, made a valid run name."""
    stem = Path(sys.argv[0] or "script").stem if sys.argv else "script"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "script"
    return name


def script_config(extra: Mapping[str, Any] | None, steps: int | None) -> dict[str, Any]:
    """The ``config.toml`` of a run the client creates itself (nobody launched it)."""
    _rank, world, local_world = dist_env()
    config: dict[str, Any] = {
        "source": "script",
        "script": str(Path(sys.argv[0]).resolve()) if sys.argv and sys.argv[0] else None,
        "args": list(sys.argv[1:]),
        "cwd": os.getcwd(),
        "nproc": local_world,
        "nnodes": max(1, world // max(1, local_world)),
    }
    if steps is not None:
        config["steps"] = int(steps)
    if extra:
        config["params"] = dict(extra)
    return config


def launch_key() -> str:
    """A name every rank of this launch computes alike, and no other launch does."""
    parts = [os.environ.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT")]
    _rank, world, local_world = dist_env()
    if local_world == world:  # one node: the agent that started us is the launch
        agent = os.getppid()
        parts += [str(agent), _start_ticks(agent)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _start_ticks(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def resolve_run(
    name: str | None,
    runs_dir: str | os.PathLike[str] | None,
    config: Mapping[str, Any] | None,
    steps: int | None,
) -> tuple[RunDir, bool]:
    """The run folder for this process and whether a launcher made it (``WORKBENCH_RUN_DIR``)."""
    given = os.environ.get(RUN_DIR_ENV)
    if given:
        run = RunDir(Path(given))
        if not run.path.is_dir():
            raise RunDirError(f"{RUN_DIR_ENV}={given} is not a folder: launch the script again")
        return _absolute(run), True
    runs = Path(runs_dir or os.environ.get(RUNS_DIR_ENV) or DEFAULT_RUNS_DIR)
    rank, world, _local = dist_env()
    name = name or default_name()
    if world == 1:
        return _absolute(create_run(runs, name, script_config(config, steps))), False
    claim = runs / CLAIMS_DIR / f"{launch_key()}.json"
    if rank == 0:
        run = _absolute(create_run(runs, name, script_config(config, steps)))
        claim.parent.mkdir(exist_ok=True)
        tmp = claim.with_name(f".{claim.name}.tmp")
        tmp.write_text(json.dumps({"run": str(run.path.resolve()), "t": time.time()}))
        os.replace(tmp, claim)
        return run, False
    deadline = time.monotonic() + CLAIM_WAIT_S
    while time.monotonic() < deadline:
        try:
            found = json.loads(claim.read_text())
            return RunDir(Path(found["run"])), False
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    raise RunDirError(
        f"rank {rank} waited {CLAIM_WAIT_S:.0f} s for rank 0 to create the run folder under "
        f"{runs}: give every rank the same {RUNS_DIR_ENV}, or set {RUN_DIR_ENV}"
    )


def _absolute(run: RunDir) -> RunDir:
    return RunDir(run.path.resolve())
