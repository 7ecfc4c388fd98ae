"""The numbers behind the live monitor: metric series in growing arrays, smoothing, progress.

Metric records (see :class:`backends.runs.MetricsWriter`) arrive in batches.
:class:`RunMetrics` files every numeric field of every record under the key
``(kind, field, rank)`` in a :class:`Series`: three growing numpy arrays (step,
write time, value) whose capacity doubles when full, so appending is amortised
O(1) and a plot can take a view of the data without copying. Fields are never
looked up by a fixed list of names, so a new field a trainer starts to write
shows up without any change here.

Also here, all plain numpy / stdlib so they are testable without Qt: the
debiased exponential moving average used by the smoothing slider (computed
incrementally as points arrive), progress and ETA from the step rate, the
config keys that differ between runs, reading a run's failure, its newest
sample preview, and metrics export to CSV.
"""

from __future__ import annotations

import csv
import math
import os
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backends.runs import JsonlTail, RunDir
from backends.runs.schema import is_number, measured_values

SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".txt")


# ---------------------------------------------------------------- growing arrays


class GrowingArray:
    """A 1-D float64 array that doubles its capacity when full.

    ``view`` is the filled part, a view into the storage (no copy). A view
    handed out earlier stays valid: growing allocates new storage and leaves
    the old one to whoever still holds it.
    """

    __slots__ = ("_data", "_size")

    def __init__(self, capacity: int = 256) -> None:
        self._data = np.empty(max(1, int(capacity)), dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        return int(self._data.shape[0])

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._size]

    def extend(self, values: np.ndarray | Sequence[float]) -> None:
        values = np.asarray(values, dtype=np.float64)
        end = self._size + values.shape[0]
        if end > self._data.shape[0]:
            capacity = self._data.shape[0]
            while capacity < end:
                capacity *= 2
            grown = np.empty(capacity, dtype=np.float64)
            grown[: self._size] = self._data[: self._size]
            self._data = grown
        self._data[self._size : end] = values
        self._size = end

    def truncate(self, size: int) -> None:
        self._size = max(0, min(int(size), self._size))


# ---------------------------------------------------------------- smoothing


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing) of ``values``.

    ``weight`` in [0, 1): 0 returns the values unchanged; 0.6 is TensorBoard's
    default. Point ``n`` is ``sum_k w^(n-k) (1-w) x_k / (1 - w^(n+1))``, so the
    first points are not pulled towards zero.
    """
    smoother = EmaState(weight)
    return smoother.extend(np.asarray(values, dtype=np.float64))


class EmaState:
    """Incremental debiased EMA: ``extend`` smooths new points continuing from the old ones.

    Computed in blocks with numpy rather than a Python loop over points: within
    a block, ``y_j = w^j (y_0 + (1-w) * cumsum(w^-i x_i))``. The block length
    keeps ``w^-block`` far from float64 overflow for any weight.
    """

    __slots__ = ("weight", "_acc", "_count", "_block", "_up", "_down", "_low", "_high")

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
        self.weight = float(weight)
        self._acc = 0.0  # the biased running average
        self._count = 0
        self._low, self._high = math.inf, -math.inf  # range of the values seen so far
        if self.weight > 0.0:
            # w^-block must stay below ~1e280: block * log10(1/w) < 280.
            self._block = int(max(1, min(4096, 280.0 / -math.log10(self.weight))))
        else:
            self._block = 4096
        # Powers w^-(i+1) and w^(i+1) for one block, computed once.
        exponents = np.arange(1, self._block + 1, dtype=np.float64)
        self._up = self.weight**-exponents if self.weight > 0.0 else exponents
        self._down = self.weight**exponents

    def extend(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.weight == 0.0:
            self._count += values.shape[0]
            if values.shape[0]:
                self._acc = float(values[-1])
            return values.copy()
        w = self.weight
        out = np.empty_like(values)
        for start in range(0, values.shape[0], self._block):
            chunk = values[start : start + self._block]
            size = chunk.shape[0]
            biased = self._down[:size] * (self._acc + (1.0 - w) * np.cumsum(chunk * self._up[:size]))
            # Debiasing: 1 - w^count, where count includes this point.
            out[start : start + size] = biased / (1.0 - w**self._count * self._down[:size])
            self._acc = float(biased[-1])
            self._count += chunk.shape[0]
        # The average of the values so far lies within their range; clipping to it removes
        # rounding noise (a constant series stays exactly constant, not 15.624999...).
        if values.shape[0]:
            low = np.minimum(np.minimum.accumulate(values), self._low)
            high = np.maximum(np.maximum.accumulate(values), self._high)
            np.clip(out, low, high, out=out)
            self._low, self._high = float(low[-1]), float(high[-1])
        return out


# ---------------------------------------------------------------- series


class Series:
    """One curve's data: step, write time and value of every point, in arrival order.

    Non-finite values (a diverged loss) are not stored, so plots never draw a
    NaN; the first step where one appeared is kept to be reported. A step
    lower than the last one means the run was resumed from an earlier
    checkpoint: the points after it are dropped, so the x data stays sorted.
    ``version`` changes whenever the data does, so a view redraws only then.
    """

    def __init__(self) -> None:
        self.step = GrowingArray()
        self.time = GrowingArray()
        self.value = GrowingArray()
        self.version = 0
        self.first_nonfinite_step: int | None = None
        self._smooth: EmaState | None = None
        self._smoothed = GrowingArray()

    def __len__(self) -> int:
        return len(self.value)

    def extend(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        steps = np.asarray(steps, dtype=np.float64)
        times = np.asarray(times, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            if self.first_nonfinite_step is None:
                self.first_nonfinite_step = int(steps[~finite][0])
            steps, times, values = steps[finite], times[finite], values[finite]
        if steps.shape[0] == 0:
            return
        # Split the batch where the step goes back; each piece resumes the series.
        backs = np.flatnonzero(np.diff(steps) < 0) + 1
        bounds = [0, *backs.tolist(), steps.shape[0]]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=False):
            self._append(steps[lo:hi], times[lo:hi], values[lo:hi])
        self.version += 1

    def _append(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        n = len(self.step)
        if n and steps[0] < self.step.view[n - 1]:
            keep = int(np.searchsorted(self.step.view, steps[0], side="left"))
            for array in (self.step, self.time, self.value):
                array.truncate(keep)
            self._smooth = None  # recomputed from the kept points when next asked
        self.step.extend(steps)
        self.time.extend(times)
        self.value.extend(values)

    def smoothed(self, weight: float) -> np.ndarray:
        """The EMA of the values, extended incrementally since the previous call."""
        if self._smooth is None or self._smooth.weight != weight:
            self._smooth = EmaState(weight)
            self._smoothed = GrowingArray(max(256, len(self.value)))
        done = len(self._smoothed)
        if done < len(self.value):
            self._smoothed.extend(self._smooth.extend(self.value.view[done:]))
        return self._smoothed.view

    def value_at(self, x: float, by_time: bool = False, origin: float = 0.0) -> tuple[float, float]:
        """The point nearest to ``x`` (a step, or seconds since ``origin``): ``(x, value)``."""
        xs = (self.time.view - origin) if by_time else self.step.view
        if xs.shape[0] == 0:
            return math.nan, math.nan
        i = int(np.clip(np.searchsorted(xs, x), 1, xs.shape[0] - 1)) if xs.shape[0] > 1 else 0
        if i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
            i -= 1
        return float(xs[i]), float(self.value.view[i])


SeriesKey = tuple[str, str, int]  # (kind, field, rank)


class RecordColumns:
    """A batch of one-field records held as columns: what a long log is read into.

    Each row is one value: ``{"t", "step", "kind", <field>: value}``. Rows are
    numbered in file order; ``columns[(kind, field)]`` holds that field's row
    numbers, steps, times and values (numpy arrays, rows ascending). It has
    the parts of a list the monitor uses (``len``, slicing by row, iterating
    as dicts), and :meth:`RunMetrics.add_records` files it column by column,
    without a Python loop per value.
    """

    def __init__(self, columns: dict[tuple[str, str], tuple[np.ndarray, ...]], rows: int) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index: slice) -> RecordColumns:
        if not isinstance(index, slice):
            raise TypeError("RecordColumns are sliced by row range only")
        lo, hi, _ = index.indices(self.rows)
        hi = max(lo, hi)
        out: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
        for key, (rows, steps, times, values) in self.columns.items():
            a, b = np.searchsorted(rows, [lo, hi])
            if b > a:
                out[key] = (rows[a:b] - lo, steps[a:b], times[a:b], values[a:b])
        return RecordColumns(out, hi - lo)

    def __iter__(self):
        flat = sorted(
            (int(r), kind, name, s, t, v)
            for (kind, name), cols in self.columns.items()
            for r, s, t, v in zip(*(c.tolist() for c in cols), strict=True)
        )
        for _row, kind, name, step, t, value in flat:
            yield {"v": 1, "t": t, "step": step, "rank": 0, "kind": kind, name: value}

    def __bool__(self) -> bool:
        return self.rows > 0

    @staticmethod
    def concat(batches: Sequence[RecordColumns]) -> RecordColumns:
        """One batch of several, rows in the given order."""
        parts: dict[tuple[str, str], list[tuple[np.ndarray, ...]]] = {}
        offset = 0
        for batch in batches:
            for key, (rows, steps, times, values) in batch.columns.items():
                parts.setdefault(key, []).append((rows + offset, steps, times, values))
            offset += batch.rows
        columns = {key: tuple(np.concatenate(c) for c in zip(*chunks, strict=True))
                   for key, chunks in parts.items()}
        return RecordColumns(columns, offset)


class RunMetrics:
    """Every numeric metric of one run, as series keyed by ``(kind, field, rank)``."""

    def __init__(self) -> None:
        self.series: dict[SeriesKey, Series] = {}
        self.start_time: float | None = None  # earliest write time seen: wall-time x origin
        self.last_time: float | None = None
        self.last_step: int | None = None
        self.records = 0
        self.version = 0  # bumps when a new series appears (views rebuild their curve list)

    def add_records(self, rank: int, records: Iterable[Mapping[str, Any]]) -> None:
        """File one batch of a rank's records; numeric fields only, others are ignored."""
        if isinstance(records, RecordColumns):
            self._add_columns(rank, records)
            return
        columns: dict[tuple[str, str], tuple[list[float], list[float], list[float]]] = {}
        for record in records:
            step, t = record.get("step"), record.get("t")
            if not is_number(step) or not is_number(t):
                continue
            kind = str(record.get("kind", "train"))
            self.records += 1
            for name, value in measured_values(kind, record):
                steps, times, values = columns.setdefault((kind, name), ([], [], []))
                steps.append(step)
                times.append(t)
                values.append(value)
            if self.start_time is None or t < self.start_time:
                self.start_time = float(t)
            if self.last_time is None or t > self.last_time:
                self.last_time = float(t)
            if kind != "memory" and (self.last_step is None or step > self.last_step):
                self.last_step = int(step)
        for (kind, name), (steps, times, values) in columns.items():
            key = (kind, name, int(rank))
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = Series()
                self.version += 1
            series.extend(np.array(steps), np.array(times), np.array(values))

    def _add_columns(self, rank: int, batch: RecordColumns) -> None:
        self.records += batch.rows
        for (kind, name), (_rows, steps, times, values) in batch.columns.items():
            if not len(steps):
                continue
            first, last = float(times.min()), float(times.max())
            if self.start_time is None or first < self.start_time:
                self.start_time = first
            if self.last_time is None or last > self.last_time:
                self.last_time = last
            top = int(steps.max())
            if kind != "memory" and (self.last_step is None or top > self.last_step):
                self.last_step = top
            self._extend(kind, name, rank, steps, times, values)

    def add_columns(self, rank: int, columns: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray,
                                                                             np.ndarray]],
                    records: int = 0, last_step: int | None = None) -> None:
        """File a rank's history given as arrays (a large run's overviews, see
        :mod:`backends.runs.columns`) instead of records."""
        for (kind, name), (steps, times, values) in columns.items():
            if len(steps) == 0:
                continue
            self._extend(kind, name, rank, steps, times, values)
            first, last = float(np.min(times)), float(np.max(times))
            if self.start_time is None or first < self.start_time:
                self.start_time = first
            if self.last_time is None or last > self.last_time:
                self.last_time = last
        self.records += int(records)
        if last_step is not None and (self.last_step is None or last_step > self.last_step):
            self.last_step = int(last_step)

    def _extend(self, kind: str, name: str, rank: int, steps: Any, times: Any, values: Any) -> None:
        key = (kind, name, int(rank))
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
            self.version += 1
        series.extend(steps, times, values)

    def get(self, kind: str, name: str, rank: int) -> Series | None:
        return self.series.get((kind, name, rank))

    def kinds(self) -> dict[str, list[str]]:
        """Field names per record kind, sorted: the generic list of everything plottable."""
        found: dict[str, set[str]] = {}
        for kind, name, _rank in self.series:
            found.setdefault(kind, set()).add(name)
        return {kind: sorted(names) for kind, names in sorted(found.items())}

    def ranks(self, kind: str | None = None, name: str | None = None) -> list[int]:
        return sorted(
            {
                r
                for k, n, r in self.series
                if (kind is None or k == kind) and (name is None or n == name)
            }
        )

    def latest(self, kind: str, name: str, rank: int | None = None) -> float | None:
        """The newest value of a field (lowest rank that has it unless ``rank`` is given)."""
        ranks = [rank] if rank is not None else self.ranks(kind, name)
        for r in ranks:
            series = self.get(kind, name, r)
            if series is not None and len(series):
                return float(series.value.view[-1])
        return None




# ---------------------------------------------------------------- which curve is which


def is_loss_field(name: str) -> bool:
    """Loss-like fields: the loss and its parts (D/G, reconstruction/KL, train/val)."""
    lowered = name.lower()
    return (
        "loss" in lowered
        or lowered in ("recon", "kl", "nll", "bce", "elbo", "perplexity")
        or lowered.startswith(("recon_", "kl_"))
    )


def matching_fields(
    metrics: RunMetrics, wanted: Callable[[str, str], bool]
) -> list[tuple[str, str]]:
    """``(kind, field)`` pairs that ``wanted(kind, field)`` accepts, in a stable order."""
    return [
        (kind, name)
        for kind, names in metrics.kinds().items()
        for name in names
        if wanted(kind, name)
    ]


# ---------------------------------------------------------------- progress


@dataclass(frozen=True)
class Progress:
    """How far a run is: steps done of the total, and the time left at the recent rate."""

    step: int
    total: int
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.step / self.total))


def estimate_progress(
    steps: np.ndarray, times: np.ndarray, total: int, window: int = 50
) -> Progress | None:
    """Progress from a series' steps and write times; the rate is over the last ``window`` points."""
    if steps.shape[0] == 0 or total <= 0:
        return None
    step = int(steps[-1])
    eta = None
    first = max(0, steps.shape[0] - window)
    dsteps = float(steps[-1] - steps[first])
    dt = float(times[-1] - times[first])
    if dsteps > 0 and dt > 0:
        eta = max(0.0, (total - step) * dt / dsteps)
    return Progress(step=step, total=int(total), eta_s=eta)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# ---------------------------------------------------------------- comparing configs


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"path": x}}`` -> ``{"data.path": x}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


MISSING = object()  # a key one run's config does not have


def differing_keys(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The config keys whose values are not the same in every run, with each run's value.

    A key absent from a run gets :data:`MISSING` in that run's place; the
    run name (``name``) is left out, it differs by design.
    """
    flats = [flatten_config(c) for c in configs]
    keys = sorted({k for flat in flats for k in flat} - {"name"})
    rows = []
    for key in keys:
        values = [flat.get(key, MISSING) for flat in flats]
        if any(v is MISSING or v != values[0] or type(v) is not type(values[0]) for v in values):
            rows.append((key, values))
    return rows


# ---------------------------------------------------------------- failures


@dataclass(frozen=True)
class FailureReport:
    """What the failure banner says about a dead rank."""

    rank: int | None
    exit_code: int | None
    message: str
    traceback: str
    log_tail: str
    log_files: list[Path] = field(default_factory=list)
    time: float | None = None

    @property
    def exit_text(self) -> str:
        """``exit code 1`` or ``signal 9 (SIGKILL)`` for a negative code."""
        if self.exit_code is None:
            return "exit code unknown"
        if self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = "unknown signal"
            return f"killed by signal {-self.exit_code} ({name})"
        return f"exit code {self.exit_code}"

    @property
    def hint(self) -> str:
        """What usually causes this failure and what to try, or empty."""
        text = f"{self.message}\n{self.traceback}\n{self.log_tail}".lower()
        for needles, advice in _HINTS:
            if any(n in text for n in needles):
                return advice
        if self.exit_code == -signal.SIGKILL:
            return ("SIGKILL with no traceback: the system's out-of-memory killer (see `dmesg`) "
                    "or a manual kill -9.")
        return ""

    @property
    def headline(self) -> str:
        who = "A rank" if self.rank is None else f"Rank {self.rank}"
        text = f"{who} failed: {self.exit_text}"
        return f"{text}. {self.message}" if self.message else text


# Known causes, matched in the message, traceback and log tail (lowercase).
_HINTS = (
    (("cuda out of memory", "outofmemoryerror"),
     "The GPU ran out of memory: lower batch_size (or raise grad_accum), use bf16, or a "
     "sharded strategy (fsdp); the memory plan shows the per-rank estimate."),
    (("address already in use",),
     "The rendezvous port is taken, often by a leftover run: stop it, or launch again "
     "(single-node launches pick a free port)."),
    (("watchdog caught collective operation timeout", "timed out", "timeout"),
     "A collective timed out: another rank hung or died first. Its log shows why; "
     "TORCH_NCCL_DUMP_ON_TIMEOUT=1 with TORCH_FR_BUFFER_SIZE=2000 records a Flight Recorder trace."),
)

# What torchrun writes where a rank left no error file (killed by a signal).
_NO_MESSAGE = ("<NONE>", "<N/A>", "None")


def failure_report(
    run: RunDir, event: Mapping[str, Any], errors: Sequence[Mapping[str, Any]] = ()
) -> FailureReport:
    """A ``failed`` lifecycle event read for a person, with the run's log files listed.

    ``errors`` are the run's ``error`` events (a rank records its own
    traceback before it dies): when the ``failed`` event has no traceback,
    the failed rank's own one is used.
    """
    rank = event.get("rank")
    code = event.get("exit_code")
    tail = event.get("log_tail") or event.get("stderr_tail") or ""
    if isinstance(tail, list):
        tail = "\n".join(str(line) for line in tail)
    message = str(event.get("message") or event.get("error") or "")
    if message.strip() in _NO_MESSAGE:
        message = ""
    trace = str(event.get("traceback") or "")
    if not trace:
        own = [e for e in errors if e.get("rank") == rank and e.get("traceback")]
        if own:
            trace = str(own[-1]["traceback"])
            message = message or str(own[-1].get("message") or "")
    named = [Path(str(p)) for p in _as_list(event.get("log_files", event.get("log")))]
    return FailureReport(
        rank=int(rank) if is_number(rank) else None,
        exit_code=int(code) if is_number(code) else None,
        message=message.strip().splitlines()[0] if message.strip() else "",
        traceback=trace.rstrip(),
        log_tail=str(tail or "").rstrip(),
        log_files=named or run_log_files(run, rank if is_number(rank) else None),
        time=event.get("t") if is_number(event.get("t")) else None,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def run_log_files(run: RunDir, rank: int | None = None) -> list[Path]:
    """The run's log files, the given rank's first (``logs/`` and torchrun's ``--log-dir``)."""
    found: list[Path] = []
    for folder in (run.logs_dir, run.path / "torchrun"):
        if folder.is_dir():
            found.extend(p for p in folder.rglob("*") if p.is_file())

    def order(path: Path) -> tuple[int, str]:
        parts = set(path.parts) | {path.stem}
        mine = rank is not None and (
            str(rank) in parts or f"rank_{rank}" in parts or f"rank{rank}" in parts
        )
        return (0 if mine else 1, str(path))

    return sorted(found, key=order)


# ---------------------------------------------------------------- samples


def latest_sample(run: RunDir) -> Path | None:
    """The newest image or text sample the trainer wrote into ``samples/``."""
    newest: tuple[float, str] | None = None
    path: Path | None = None
    try:
        entries = list(os.scandir(run.samples_dir))
    except OSError:
        return None
    for entry in entries:
        if entry.is_file() and entry.name.lower().endswith(SAMPLE_SUFFIXES):
            key = (entry.stat().st_mtime, entry.name)
            if newest is None or key > newest:
                newest, path = key, Path(entry.path)
    return path


# ---------------------------------------------------------------- export


def export_metrics_csv(runs: Sequence[RunDir], out_path: str | os.PathLike[str]) -> int:
    """Write every metric record of ``runs`` to one CSV file (a row per record); returns rows.

    Columns: ``run, rank, kind, step, t`` then every other field, sorted by
    name; a field a record lacks is left empty.
    """
    rows: list[dict[str, Any]] = []
    fields: set[str] = set()
    for run in runs:
        for rank, path in run.metrics_files().items():
            for record in JsonlTail(path).read_new():
                row = {"run": run.name, "rank": record.get("rank", rank)}
                row.update({k: v for k, v in record.items() if k not in ("rank", "v")})
                fields.update(k for k in row if k not in ("run", "rank", "kind", "step", "t"))
                rows.append(row)
    header = ["run", "rank", "kind", "step", "t", *sorted(fields)]
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_path)
    return len(rows)
