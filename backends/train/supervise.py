"""The launcher-side process of a run: owns the run, runs torchrun's agent, records the outcome.

``python -m backends.train.supervise --run-dir RUN -- <torchrun arguments>``
is what :func:`backends.launch.start` starts. First it takes its share of
the run's live lock (held until it exits or dies: the kernel drops it), so
the run reads as live and no second launch can start. Then it runs
torchrun's own launcher in this process (``torch.distributed.run``: same
arguments, same behaviour, with the loopback rendezvous registered) so that
the outcome arrives as objects, not console text: when a rank fails, the
``failed`` event names the root-cause rank, its exit code or signal, its
traceback (from the error file ``@record`` wrote) and the tail of its stderr
log. SIGTERM here is forwarded to the ranks by torchrun; they save a
checkpoint and rank 0 records ``stopped``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from backends.launch.failures import (
    describe_failures,
    describe_from_rank_errors,
    rank_errors_since,
    torchrun_log_dir,
)
from backends.launch.ownership import hold_live, read_run_info
from backends.launch.space import release, reserve
from backends.launch.state import ENDINGS
from backends.runs import RunDir, read_events, record_event


def _launched_at(run: RunDir) -> float:
    launched = read_run_info(run).get("started")
    return float(launched) if isinstance(launched, int | float) else 0.0


def _ended_since_start(run: RunDir) -> bool:
    """Whether an end (finished, stopped, killed, failed) was recorded since this launch."""
    since = _launched_at(run)
    return any(
        e.get("kind") in ENDINGS and isinstance(e.get("t"), int | float) and e["t"] >= since
        for e in read_events(run)
    )


def _latest_checkpoint(run: RunDir) -> str | None:
    from backends.launch.service import list_checkpoints

    found = list_checkpoints(run)
    return str(found[-1].path) if found else None


def _record(run: RunDir, kind: str, **fields: Any) -> None:
    release(run)  # the end of a run is worth the reserve
    try:
        record_event(run, kind, **fields)
    except OSError as exc:  # a full disk: say it where a person looks, the launcher log
        print(f"could not record the {kind!r} event in {run.events_path}: {exc}; "
              f"the run ended with {fields}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("usage: python -m backends.train.supervise --run-dir RUN -- TORCHRUN_ARGS", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m backends.train.supervise")
    parser.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv[:split])
    run = RunDir(Path(args.run_dir))
    hold_live(run)  # for this process's whole life; the kernel releases it when we die
    reserve(run)  # room to record the end even if the disk fills up
    try:
        return _supervise(run, argv[split + 1 :])
    finally:
        release(run)


def _supervise(run: RunDir, torchrun_args: list[str]) -> int:

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    from backends.launch.loopback import register

    register()
    try:
        torchrun(parse_args(torchrun_args))
    except ChildFailedError as exc:
        if not _ended_since_start(run):
            errors = rank_errors_since(run, _launched_at(run))
            _record(run, "failed", **describe_failures(exc.failures, torchrun_log_dir(run), errors))
        return 1
    except SignalException as exc:
        if not _ended_since_start(run):
            _record(
                run, "stopped", signal=exc.sigval.name, checkpoint=_latest_checkpoint(run),
                note="the ranks did not finish their step in time; the last checkpoint is kept",
            )
        return 0
    except Exception as exc:  # rendezvous errors, bad arguments, an unreadable error file
        if not _ended_since_start(run):
            _record(run, "failed", **describe_from_rank_errors(run, _launched_at(run), exc))
        raise
    if not _ended_since_start(run):
        _record(run, "failed", rank=None, exit_code=0,
                message="the ranks exited without recording the end of training")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
