"""The run directory: the single source of truth for one training run.

A run lives in one folder under the runs folder (``./runs`` by default)::

    <runs>/<name>/
        config.toml              the training config, as launched
        run.json                 the launcher's record (command, pids), if launched
        events.jsonl             lifecycle: created, started, checkpoint, finished,
                                 stopped, failed (rank, exit code, traceback)
        metrics/rank_<r>.jsonl   one JSON object per line, one file per rank
        checkpoints/  logs/  samples/

Every record is appended with a single ``write`` on a file opened with
``O_APPEND``, so it reaches the file when written (nothing is buffered in the
process) and lines from concurrent writers never interleave. Readers tail the
files from a byte offset: a line without its newline yet (a torn write, or a
writer that died mid-line) is held back and picked up once it is complete; a
complete line that is not JSON is skipped and reported, never fatal.

Because everything is in files, a run outlives the GUI that launched it, can be
started from a terminal or a cluster and still be watched, and can be reopened
and compared later.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

SCHEMA_VERSION = 1
DEFAULT_RUNS_DIR = Path("runs")

CONFIG_FILE = "config.toml"
EVENTS_FILE = "events.jsonl"
RUN_INFO_FILE = "run.json"
METRICS_DIR = "metrics"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
SAMPLES_DIR = "samples"

# Lifecycle event kinds. The last terminal event decides a run's status.
TERMINAL_EVENTS = ("finished", "stopped", "killed", "failed")
ENDED = TERMINAL_EVENTS  # the states a run ends in
# A new run needs room for its config, logs and first checkpoint; below this, refuse up front.
MIN_FREE_BYTES = 64 * 1024 * 1024
_RANK_FILE = re.compile(r"^rank_(\d+)\.jsonl$")
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# One read never pulls more than this into memory; a 1 GB log is read in slices.
_READ_SLICE = 16 * 1024 * 1024


class RunDirError(ValueError):
    """A run folder or runs folder that cannot be used; the message says how to fix it."""


def disk_full_message(where: Path, exc: OSError | None = None) -> str:
    """One line for ENOSPC: what is full and what to do."""
    import errno

    free = ""
    try:
        free = f" ({shutil.disk_usage(where).free / 2**20:.0f} MiB free)"
    except OSError:
        pass
    if exc is not None and exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write in {where}: {exc.strerror or exc}"
    return (f"disk full: no space left on the device of {where}{free}; free some space or "
            "choose another runs folder (--runs-dir, or Settings)")


def check_free_space(runs_dir: Path, need: int = MIN_FREE_BYTES) -> None:
    """Refuse, before anything is created, when the runs folder's disk has no room."""
    try:
        free = shutil.disk_usage(runs_dir).free
    except OSError:
        return
    if free < need:
        raise RunDirError(disk_full_message(runs_dir))


# ---------------------------------------------------------------- the folder


@dataclass(frozen=True)
class RunDir:
    """Paths of one run folder. Holds no state beyond the path."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def events_path(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def run_info_path(self) -> Path:
        return self.path / RUN_INFO_FILE

    @property
    def metrics_dir(self) -> Path:
        return self.path / METRICS_DIR

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def logs_dir(self) -> Path:
        return self.path / LOGS_DIR

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    def metrics_path(self, rank: int) -> Path:
        return self.metrics_dir / f"rank_{int(rank)}.jsonl"

    def metrics_files(self) -> dict[int, Path]:
        """The per-rank metrics files that exist now, by rank."""
        found: dict[int, Path] = {}
        if self.metrics_dir.is_dir():
            for entry in self.metrics_dir.iterdir():
                match = _RANK_FILE.match(entry.name)
                if match:
                    found[int(match.group(1))] = entry
        return dict(sorted(found.items()))


def ensure_runs_dir(path: str | os.PathLike[str]) -> Path:
    """Create the runs folder if needed and check that runs can be written there."""
    runs = Path(path).expanduser()
    if runs.exists() and not runs.is_dir():
        raise RunDirError(
            f"runs folder {runs} is a file, not a folder: choose another with --runs-dir "
            "or in Settings"
        )
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(
            f"cannot create runs folder {runs} ({exc.strerror}): choose another with "
            "--runs-dir or in Settings"
        ) from exc
    if not os.access(runs, os.W_OK | os.X_OK):
        raise RunDirError(
            f"runs folder {runs} is not writable: choose another with --runs-dir or in Settings"
        )
    return runs


def valid_run_name(name: str) -> bool:
    """Whether ``name`` can name a run folder (and so appear in commands and scripts)."""
    # fullmatch: "$" alone would let a trailing newline through, into shell lines and scripts.
    return bool(_VALID_NAME.fullmatch(name or ""))


def create_run(
    runs_dir: str | os.PathLike[str], name: str, config: Mapping[str, Any]
) -> RunDir:
    """Make a new run folder with its config and a ``created`` event.

    A name already taken gets a numeric suffix (``name-2``), so an earlier run
    is never overwritten.
    """
    if not valid_run_name(name):
        raise RunDirError(
            f"run name {name!r} is not valid: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    runs = ensure_runs_dir(runs_dir)
    candidate, suffix = runs / name, 1
    while True:
        try:
            candidate.mkdir()
            break
        except FileExistsError:
            suffix += 1
            candidate = runs / f"{name}-{suffix}"
    run = RunDir(candidate)
    try:
        for sub in (METRICS_DIR, CHECKPOINTS_DIR, LOGS_DIR, SAMPLES_DIR):
            (run.path / sub).mkdir()
        write_toml_atomic(run.config_path, config)
        record_event(run, "created", schema=SCHEMA_VERSION)
    except OSError as exc:
        # Never leave a folder without its config behind (a disk that filled up meanwhile).
        shutil.rmtree(run.path, ignore_errors=True)
        raise RunDirError(disk_full_message(runs, exc)) from exc
    return run


def open_run(path: str | os.PathLike[str]) -> RunDir:
    """A run folder that exists and has its config; otherwise a clear error."""
    run = RunDir(Path(path).expanduser())
    if not run.path.is_dir():
        raise RunDirError(f"{run.path} is not a folder: pick a run folder inside the runs folder")
    if not run.config_path.is_file():
        raise RunDirError(
            f"{run.path} has no {CONFIG_FILE}: it is not a workbench run, or its config was "
            "deleted (restore it, or start a new run)"
        )
    return run


def delete_run(run: RunDir) -> None:
    """Remove a run folder and everything in it (the caller asks the user first)."""
    shutil.rmtree(run.path)


# ---------------------------------------------------------------- config


def write_toml_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write TOML through a temporary file and a rename: never a half-written config."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(tomli_w.dumps(_drop_none(data)))
            f.flush()
            os.fsync(f.fileno())  # the rename must not publish a file whose bytes are not there
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def read_config(run: RunDir) -> dict[str, Any]:
    """The run's config as a dict; a missing or malformed file gives a RunDirError."""
    try:
        text = run.config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RunDirError(
            f"{run.path} has no {CONFIG_FILE}: restore it, or start a new run"
        ) from exc
    except UnicodeDecodeError as exc:
        raise RunDirError(
            f"{run.config_path} is not UTF-8 text (byte {exc.start}): fix or restore it"
        ) from exc
    except OSError as exc:
        raise RunDirError(f"{run.config_path} cannot be read ({exc.strerror or exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RunDirError(f"{run.config_path} is not valid TOML ({exc}): fix or restore it") from exc


def _drop_none(data: Mapping[str, Any]) -> dict[str, Any]:
    # TOML has no null; an unset optional value is simply absent.
    return {
        k: _drop_none(v) if isinstance(v, Mapping) else v
        for k, v in data.items()
        if v is not None
    }


# ---------------------------------------------------------------- writing records


def append_jsonl(path: Path, record: Mapping[str, Any]) -> None:
    """Append one record as one line with a single write (see the module docstring)."""
    line = (json.dumps(record, separators=(",", ":"), allow_nan=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def record_event(run: RunDir, kind: str, **fields: Any) -> dict[str, Any]:
    """Append a lifecycle event (``created``, ``started``, ``checkpoint``, ``failed``...)."""
    event = {"t": time.time(), "kind": kind, **fields}
    append_jsonl(run.events_path, event)
    return event


class MetricsWriter:
    """Appends one rank's metric records; each record is on disk when ``write`` returns.

    A record is ``{"v", "t", "step", "rank", "kind", **values}``; ``kind`` says
    which family the values belong to (``train``, ``val``, ``memory``...).
    """

    def __init__(self, run: RunDir, rank: int) -> None:
        self.rank = int(rank)
        run.metrics_dir.mkdir(parents=True, exist_ok=True)
        self.path = run.metrics_path(self.rank)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, step: int, kind: str = "train", **values: Any) -> dict[str, Any]:
        if self._fd is None:
            raise ValueError("MetricsWriter is closed")
        record = {
            "v": SCHEMA_VERSION,
            "t": time.time(),
            "step": int(step),
            "rank": self.rank,
            "kind": kind,
            **values,
        }
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        return record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading records


@dataclass
class JsonlTail:
    """Reads the records appended to a JSON Lines file since the last call.

    ``offset`` is the byte position of the first line not yet returned; a
    reader can be re-created from a stored offset and will not start over.
    """

    path: Path
    offset: int = 0
    bad_lines: list[str] = field(default_factory=list)

    def read_new(self) -> list[dict[str, Any]]:
        """Every complete record written since the last call, in file order."""
        records: list[dict[str, Any]] = []
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # the file was replaced or truncated: start again
                    self.offset = 0
                while self.offset < size:
                    f.seek(self.offset)
                    chunk = f.read(min(_READ_SLICE, size - self.offset))
                    end = chunk.rfind(b"\n")
                    if end < 0:
                        if len(chunk) >= _READ_SLICE:  # a single line longer than a slice
                            self._reject(self.offset, "line longer than 16 MiB")
                            self.offset += len(chunk)
                            continue
                        break  # only a torn last line: wait for the rest of it
                    self._parse(chunk[: end + 1], self.offset, records)
                    self.offset += end + 1
        except FileNotFoundError:
            pass
        return records

    def _parse(self, block: bytes, start: int, out: list[dict[str, Any]]) -> None:
        position = start
        for raw in block.split(b"\n")[:-1]:
            if raw.strip():
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    out.append(record)
                else:
                    self._reject(position, "not a JSON object")
            position += len(raw) + 1

    def _reject(self, position: int, why: str) -> None:
        self.bad_lines.append(f"{self.path.name}: skipped a line at byte {position}: {why}")


@dataclass
class RunUpdate:
    """What a :class:`RunReader` found since its previous poll."""

    metrics: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.metrics or self.events or self.problems)


class RunReader:
    """Tails a run's events and every rank's metrics, including ranks that appear later."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self._events = JsonlTail(run.events_path)
        self._metrics: dict[int, JsonlTail] = {}
        self._reported_problems = 0

    def offsets(self) -> dict[str, int]:
        """Byte offsets reached, by file name (to resume reading elsewhere)."""
        result = {EVENTS_FILE: self._events.offset}
        result.update({tail.path.name: tail.offset for tail in self._metrics.values()})
        return result

    def poll(self) -> RunUpdate:
        update = RunUpdate(events=self._events.read_new())
        for rank, path in self.run.metrics_files().items():
            tail = self._metrics.setdefault(rank, JsonlTail(path))
            records = tail.read_new()
            if records:
                update.metrics[rank] = records
        problems = self._events.bad_lines + [
            p for tail in self._metrics.values() for p in tail.bad_lines
        ]
        update.problems = problems[self._reported_problems :]
        self._reported_problems = len(problems)
        return update


def read_events(run: RunDir) -> list[dict[str, Any]]:
    """All lifecycle events of a run, oldest first."""
    return JsonlTail(run.events_path).read_new()


def status_from_events(events: Iterable[Mapping[str, Any]]) -> str:
    """What the events alone say: ``created``, ``running`` or the last ending.

    This does not check whether the run's processes live: for the state to
    show, use :func:`backends.launch.run_state`.
    """
    status = "unknown"
    for event in events:
        kind = event.get("kind")
        if kind == "created" and status == "unknown":
            status = "created"
        elif kind == "started":
            status = "running"
        elif kind in TERMINAL_EVENTS:
            status = "killed" if kind == "stopped" and event.get("killed") else str(kind)
    return status


# ---------------------------------------------------------------- run listing


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs list."""

    name: str
    path: Path
    status: str
    created: float | None
    model: str | None = None
    strategy: str | None = None
    world_size: int | None = None
    last_step: int | None = None
    last_loss: float | None = None
    problem: str | None = None  # why the folder is unreadable, or what is wrong in it
    reason: str | None = None  # why the run is in its state (which rank failed, ...)
    source: str = "workbench"  # or "tensorboard": a folder of event files (backends.tensorboard)


def summarize_run(run: RunDir) -> RunSummary:
    """Status, config essentials and the last loss of one run, read cheaply.

    A folder that cannot be read (a config that is not UTF-8 or not TOML, an
    events log that cannot be opened) gives status ``unreadable`` with the
    reason, never an exception: one broken folder must not hide the others.
    """
    try:
        events = read_events(run)
    except OSError as exc:
        return RunSummary(run.name, run.path, "unreadable", None,
                          problem=f"{run.events_path} cannot be read ({exc.strerror or exc})")
    created = next((e.get("t") for e in events if e.get("kind") == "created"), None)
    if not isinstance(created, int | float) or isinstance(created, bool):
        created = None  # a malformed event: the run still lists, without its date
    status = status_from_events(events)
    try:
        config = read_config(run)
    except RunDirError as exc:
        return RunSummary(run.name, run.path, "unreadable", created, problem=str(exc))
    last = _last_record(run.metrics_path(0), lambda r: "loss" in r)
    nproc, nnodes = config.get("nproc", 1), config.get("nnodes", 1)
    world = nproc * nnodes if isinstance(nproc, int) and isinstance(nnodes, int) else None
    return RunSummary(
        name=run.name,
        path=run.path,
        status=status,
        created=created,
        model=_config_text(config, "model") or _script_label(config),
        strategy=_config_text(config, "strategy"),
        world_size=world,
        last_step=_number(last.get("step")) if last else None,
        last_loss=_number(last.get("loss")) if last else None,
    )


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run folder under ``runs_dir`` (newest first); other folders are ignored."""
    runs = Path(runs_dir).expanduser()
    if not runs.is_dir():
        return []
    found = [
        summarize_run(RunDir(entry))
        for entry in runs.iterdir()
        if entry.is_dir() and ((entry / CONFIG_FILE).exists() or (entry / EVENTS_FILE).exists())
    ]
    from backends.tensorboard import find_runs as find_tensorboard_runs

    found += find_tensorboard_runs(runs)  # TensorBoard log folders are runs too
    return sorted(found, key=lambda s: s.created or 0.0, reverse=True)


def _script_label(config: Mapping[str, Any]) -> str | None:
    """A script run's "model" in the list: its file or module name."""
    script, module = config.get("script"), config.get("module")
    if isinstance(script, str) and script:
        return Path(script).name
    return module if isinstance(module, str) and module else None


def _config_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, Mapping):  # nested sections name themselves with "name"
        value = value.get("name")
    return None if value is None else str(value)


def _last_record(path: Path, wanted: Any, window: int = 65536) -> dict[str, Any] | None:
    """The last record of a JSON Lines file that satisfies ``wanted``, reading its tail only."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - window))
            lines = f.read().split(b"\n")
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and wanted(record):
            return record
    return None
