"""The commands a run is started with: torchrun for one node, one per node, a Slurm script.

Plain functions of a :class:`~backends.train.config.TrainConfig` and a run
folder; nothing is started here.

- Single node: torchrun with the workbench's loopback rendezvous
  (``--rdzv-backend workbench-loopback --rdzv-endpoint 127.0.0.1:0``): the
  agent's store, which the ranks share as their process-group store, listens
  on 127.0.0.1 at a port the kernel picks, and gloo/NCCL pair sockets are
  pinned to the loopback interface. Nothing the run opens is reachable from
  another host.
- Several nodes: torchrun's c10d rendezvous at ``rdzv_endpoint`` (node 0
  hosts it). That store listens on every interface of node 0: it has to be
  reachable from the other nodes. :func:`exposure_note` says so wherever the
  command is shown.
- Slurm: an ``sbatch`` script running torchrun on every allocated node.

Every value placed in a shell line or a script goes through ``shlex.quote``;
the only unquoted words are the script's own variables (``$HEAD``,
``$SLURM_JOB_ID``), written inside double quotes.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

TORCHRUN = ("-m", "torch.distributed.run")
ENTRY = ("-m", "backends.train")
TORCHRUN_LOG_DIR = "torchrun"
DEFAULT_MULTINODE_PORT = 29500
LOOPBACK_BACKEND = "workbench-loopback"
LOOPBACK_ENDPOINT = "127.0.0.1:0"
_LOOPBACK_INTERFACE = "lo0" if sys.platform == "darwin" else "lo"
# Slurm directives are read line by line before any shell runs: only plain words go there.
_SLURM_WORD = re.compile(r"^[A-Za-z0-9._:+-]+$")
_SLURM_PATH = re.compile(r"^[A-Za-z0-9._/+%-]+$")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (for multi-node tests on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _is_script(config: Any) -> bool:
    return getattr(config, "source", "") == "script"


def worker_env(config: Any, run_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Variables the ranks need on top of the caller's environment."""
    from backends.train.config import resolve_device

    env = {"PYTHONUNBUFFERED": "1"}
    if _is_script(config) and run_dir is not None:
        from backends.launch.script import RUN_DIR_ENV

        env[RUN_DIR_ENV] = str(Path(run_dir).absolute())  # the client opens the run from it
    if config.nnodes == 1:
        # Collective pair sockets bind the interface named here, not what the hostname
        # resolves to: a single-node run talks over loopback only.
        env["GLOO_SOCKET_IFNAME"] = _LOOPBACK_INTERFACE
        if resolve_device(config.device) == "cuda":
            env["NCCL_SOCKET_IFNAME"] = _LOOPBACK_INTERFACE
    if resolve_device(config.device) == "cpu" and config.nproc > 1:
        # One intra-op thread per rank: several ranks must not fight over the same cores.
        env["OMP_NUM_THREADS"] = "1"
    if _is_script(config):
        env.update(config.env)  # the user's own, last: theirs win
    return env


def _entry(config: Any, run_dir: Path) -> list[str]:
    if _is_script(config):
        from backends.launch.script import script_entry

        return script_entry(config)
    return [*ENTRY, "--run-dir", str(run_dir)]


def _torchrun_args(
    config: Any,
    run_dir: Path,
    *,
    nnodes: int,
    endpoint: str,
    backend: str = "c10d",
    node_rank: int | None = None,
    is_host: bool | None = None,
    run_id: str | None = None,
    python: str | None = None,
) -> list[str]:
    run_dir = Path(run_dir).absolute()
    args = [python or sys.executable, *TORCHRUN, "--nnodes", str(nnodes),
            "--nproc-per-node", str(config.nproc), "--rdzv-backend", backend,
            "--rdzv-endpoint", endpoint, "--rdzv-id", run_id or run_dir.name]
    if is_host is not None:
        args += ["--rdzv-conf", f"is_host={'true' if is_host else 'false'}"]
    if node_rank is not None:
        args += ["--node-rank", str(node_rank)]
    args += ["--max-restarts", "0", "--log-dir", str(run_dir / "logs" / TORCHRUN_LOG_DIR),
             "--tee", "3", "--local-ranks-filter", "0", *_entry(config, run_dir)]
    return args


def build_command(config: Any, run_dir: str | os.PathLike[str]) -> list[str]:
    """The single-node torchrun command for ``config`` writing into ``run_dir`` (loopback only)."""
    if config.nnodes != 1:
        raise ValueError(f"nnodes={config.nnodes}: use build_node_commands or build_slurm_script")
    return _torchrun_args(config, Path(run_dir), nnodes=1, endpoint=LOOPBACK_ENDPOINT,
                          backend=LOOPBACK_BACKEND)


def build_node_commands(config: Any, run_dir: str | os.PathLike[str]) -> list[list[str]]:
    """One torchrun command per node (index = node rank); node 0 hosts the rendezvous.

    Every node must see the run folder at the same path (a shared file
    system): all ranks append their metrics and events there.
    """
    endpoint = config.rdzv_endpoint or f"127.0.0.1:{DEFAULT_MULTINODE_PORT}"
    return [
        _torchrun_args(config, Path(run_dir), nnodes=config.nnodes, endpoint=endpoint,
                       node_rank=node, is_host=node == 0)
        for node in range(config.nnodes)
    ]


def exposure_note(config: Any) -> str:
    """What a run's listening sockets can be reached from, in one line."""
    if config.nnodes == 1:
        return "single node: every socket of the run listens on loopback (127.0.0.1) only"
    endpoint = config.rdzv_endpoint or f"127.0.0.1:{DEFAULT_MULTINODE_PORT}"
    return (f"{config.nnodes} nodes: node 0's rendezvous store at {endpoint} listens on all of its "
            "interfaces, without a password; keep the nodes on a private network")


def _slurm_word(value: str, what: str) -> str:
    if not _SLURM_WORD.match(value):
        raise ValueError(f"{what} {value!r} cannot go into an #SBATCH line: use letters, digits, "
                         "'.', '_', ':', '+' or '-'")
    return value


def _slurm_output(run_dir: Path) -> str:
    """Where Slurm writes the job's output: the run's logs, when the path is a plain word."""
    path = str(run_dir / "logs" / "slurm-%j.out")
    # A path with blanks, quotes or a newline cannot go into a directive: use the submit folder.
    return path if _SLURM_PATH.match(path) else "slurm-%j.out"


def build_slurm_script(
    config: Any,
    run_dir: str | os.PathLike[str],
    *,
    job_name: str | None = None,
    partition: str | None = None,
    time_limit: str = "01:00:00",
    gpus_per_node: int | None = None,
    port: int = DEFAULT_MULTINODE_PORT,
    python: str | None = None,
) -> str:
    """An ``sbatch`` script: one task per node, each running torchrun for its node's ranks."""
    run_dir = Path(run_dir).absolute()
    # "auto" asks for GPUs: the cluster has them even when the desktop writing the script has not.
    gpus = 0 if config.device == "cpu" else (config.nproc if gpus_per_node is None else gpus_per_node)
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={_slurm_word(job_name or run_dir.name, 'job name')}",
        f"#SBATCH --nodes={int(config.nnodes)}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --time={_slurm_word(time_limit, 'time limit')}",
        f"#SBATCH --output={_slurm_output(run_dir)}",
    ]
    if gpus:
        lines.append(f"#SBATCH --gpus-per-node={int(gpus)}")
    if partition:
        lines.append(f"#SBATCH --partition={_slurm_word(partition, 'partition')}")
    if config.rdzv_endpoint and ":" in config.rdzv_endpoint:
        port = int(config.rdzv_endpoint.rsplit(":", 1)[1])  # the host is the allocation's first
    placeholder_endpoint, placeholder_id = "@ENDPOINT@", "@JOB_ID@"
    args = _torchrun_args(config, run_dir, nnodes=config.nnodes, endpoint=placeholder_endpoint,
                          run_id=placeholder_id, python=python)
    words = []
    for arg in args:
        if arg == placeholder_endpoint:
            words.append(f'"${{HEAD}}":{int(port)}')
        elif arg == placeholder_id:
            words.append('"${SLURM_JOB_ID}"')
        else:
            words.append(shlex.quote(arg))
    env = worker_env(config, run_dir)
    env.pop("GLOO_SOCKET_IFNAME", None)  # several nodes talk over the network
    env.pop("NCCL_SOCKET_IFNAME", None)
    lines += [
        "",
        f"# {exposure_note(config)}",
        *([f"cd {shlex.quote(config.cwd)}"] if _is_script(config) and config.cwd else []),
        "# The first node of the allocation hosts the rendezvous.",
        'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        *[f"export {k}={shlex.quote(v)}" for k, v in env.items()],
        f"srun --kill-on-bad-exit=1 {' '.join(words)}",
        "",
    ]
    return "\n".join(lines)


def shell_line(command: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    """``command`` as one line to paste into a terminal, environment first, every word quoted."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    line = (prefix + " " if prefix else "") + shlex.join(command)
    return f"cd {shlex.quote(cwd)} && {line}" if cwd else line


def config_cwd(config: Any) -> str | None:
    """The folder a script run's ranks start in (None: wherever the command is run)."""
    return (config.cwd or None) if _is_script(config) else None
