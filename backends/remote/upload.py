"""Send a user's script and its working folder to a host (``workbench train --script F --host H``).

What travels is the run's working folder (``cwd`` of its
:class:`~backends.launch.script.ScriptConfig`, the folder the command was given
in), which must hold the script: every file under it, except hidden folders
(``.git``, ``.venv``...), folders named ``runs`` or ``__pycache__``, and the
local runs folder when it lies inside. A folder whose files add up to more
than the cap (``$WORKBENCH_UPLOAD_LIMIT_MB``, default 100 MiB) is refused in
one line that names the cap, the largest files and the way out; nothing is
sent then. The files go by SFTP into ``<workdir>/.workbench/code/<run>-<ms>``
on the host, and the config the host launches names the script and working
folder there, so the host's launch service runs it exactly as a local script
run (it hashes the copy again).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from backends.launch.errors import LaunchError
from backends.remote.hosts import Host
from backends.remote.ssh import Session

LIMIT_ENV = "WORKBENCH_UPLOAD_LIMIT_MB"
DEFAULT_LIMIT_MB = 100
SKIPPED_FOLDERS = ("runs", "__pycache__")
CODE_DIR = ".workbench/code"


def upload_limit_bytes() -> int:
    """The cap on what one launch sends: ``$WORKBENCH_UPLOAD_LIMIT_MB`` MiB, else 100 MiB."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_LIMIT_MB * 2**20
    try:
        return int(float(text) * 2**20)
    except ValueError:
        raise LaunchError(f"{LIMIT_ENV}={text!r} is not a number of MiB: unset it or give e.g. 500") from None


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 // 10 else f"{size / 2**10:.1f} KiB"


def _too_big(folder: Path, sizes: list[tuple[int, str]], limit: int, host: Host) -> LaunchError:
    largest = ", ".join(f"{name} ({_mib(size)})" for size, name in sorted(sizes, reverse=True)[:3])
    return LaunchError(
        f"the script's folder {folder} holds more than the {_mib(limit)} cap ({LIMIT_ENV}) to send "
        f"to {host.name} (largest: {largest}): run from a smaller folder (or --set cwd=FOLDER), keep "
        f"data on the host, or raise the cap with {LIMIT_ENV}=N")


def collect_files(folder: Path, host: Host, *, skip: Sequence[Path] = (),
                  limit: int | None = None) -> list[tuple[Path, str]]:
    """The files to send, as (local path, path relative to ``folder``); refused above the cap."""
    limit = upload_limit_bytes() if limit is None else limit
    skipped = {p.resolve() for p in skip}
    found: list[tuple[Path, str]] = []
    sizes: list[tuple[int, str]] = []
    total = 0
    for here, dirs, names in os.walk(folder):  # symlinked folders are not entered
        base = Path(here)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS
                         and (base / d).resolve() not in skipped)
        for name in sorted(names):
            path = base / name
            if not path.is_file():  # a dangling link, a socket, a pipe
                continue
            rel = PurePosixPath(*path.relative_to(folder).parts).as_posix()
            size = path.stat().st_size
            total += size
            sizes.append((size, rel))
            found.append((path, rel))
            if total > limit:
                raise _too_big(folder, sizes, limit, host)
    return found


@dataclass(frozen=True)
class ScriptFiles:
    """A script run's working folder and the files of it to send (path, path relative to it)."""

    folder: Path
    files: list[tuple[Path, str]]


def script_files(data: dict[str, Any], host: Host, runs_dir: Path) -> ScriptFiles:
    """What a prepared script config sends: its working folder's files (refused above the cap)."""
    folder = Path(data["cwd"])
    script = Path(data["script"]) if data.get("script") else None
    if script is not None and not script.resolve().is_relative_to(folder.resolve()):
        raise LaunchError(f"script {script} is not inside its working folder {folder}, the folder "
                          f"sent to {host.name}: run the command from the script's folder "
                          "(or --set cwd=FOLDER above it)")
    return ScriptFiles(folder, collect_files(folder, host, skip=[runs_dir]))


def send_script(session: Session, host: Host, data: dict[str, Any],
                sent: ScriptFiles) -> tuple[dict[str, Any], str]:
    """Send the files; returns the config for the host (paths there) and the folder there."""
    code_dir = f"{host.workdir.rstrip('/')}/{CODE_DIR}/{data['name']}-{int(time.time() * 1000)}"
    session.put_files([(path, f"{code_dir}/{rel}") for path, rel in sent.files])
    remote = {**data, "cwd": code_dir}
    if data.get("script"):
        rel = PurePosixPath(*Path(data["script"]).resolve().relative_to(sent.folder.resolve()).parts)
        remote["script"] = f"{code_dir}/{rel.as_posix()}"
    return remote, code_dir
