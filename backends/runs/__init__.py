"""The run directory: the single source of truth for one training run.

A run lives in one folder under the runs folder (``./runs`` by default)::

    <runs>/<name>/
        config.toml              the training config, as launched
        run.json                 the launcher's record (command, pids), if launched
        events.jsonl             lifecycle: created, started, checkpoint, finished,
                                 stopped, failed (rank, exit code, traceback)
        metrics/rank_<r>.jsonl   one JSON object per line, one file per rank
        metrics/.columns/        the same numbers as binary columns with min/max
                                 levels (see :mod:`backends.runs.columns`)
        checkpoints/  logs/  samples/

Because everything is in files, a run outlives the GUI that launched it, can be
started from a terminal or a cluster and still be watched, and can be reopened
and compared later.

The rooms: :mod:`~backends.runs.folder` (layout, names, config, free space),
:mod:`~backends.runs.records` (appending and tailing JSON Lines),
:mod:`~backends.runs.writer` (a rank's metrics writer),
:mod:`~backends.runs.schema` (what a metric record holds),
:mod:`~backends.runs.columns` (binary columns with min/max levels;
:mod:`~backends.runs.column_blocks` turns records into them,
:mod:`~backends.runs.decimation` reduces a series for a plot,
:mod:`~backends.runs.column_reader` follows a large run through them) and
:mod:`~backends.runs.listing` (the runs list). This package's namespace is the
public surface the rest of the workbench imports.
"""

from backends.runs.folder import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    DEFAULT_RUNS_DIR,
    ENDED,
    EVENTS_FILE,
    LOGS_DIR,
    METRICS_DIR,
    MIN_FREE_BYTES,
    RUN_INFO_FILE,
    SAMPLES_DIR,
    SCHEMA_VERSION,
    TERMINAL_EVENTS,
    RunDir,
    RunDirError,
    check_free_space,
    create_run,
    delete_run,
    disk_full_message,
    ensure_runs_dir,
    open_run,
    read_config,
    valid_run_name,
    write_toml_atomic,
)
from backends.runs.listing import RunSummary, last_record, list_runs, summarize_run
from backends.runs.records import (
    JsonlTail,
    RunReader,
    RunUpdate,
    append_jsonl,
    read_events,
    record_event,
    status_from_events,
)
from backends.runs.writer import MetricsWriter

__all__ = [
    "CHECKPOINTS_DIR", "CONFIG_FILE", "DEFAULT_RUNS_DIR", "ENDED", "EVENTS_FILE", "LOGS_DIR",
    "METRICS_DIR", "MIN_FREE_BYTES", "RUN_INFO_FILE", "SAMPLES_DIR", "SCHEMA_VERSION",
    "TERMINAL_EVENTS", "JsonlTail", "MetricsWriter", "RunDir", "RunDirError", "RunReader",
    "RunSummary", "RunUpdate", "append_jsonl", "check_free_space", "create_run", "delete_run",
    "disk_full_message", "ensure_runs_dir", "last_record", "list_runs", "open_run",
    "read_config", "read_events", "record_event", "status_from_events", "summarize_run",
    "valid_run_name", "write_toml_atomic",
]
