"""The launcher-side process of a run: runs torchrun's agent and records how the run ended.

``python -m backends.train.supervise --run-dir RUN -- <torchrun arguments>``
is what :func:`backends.launch.launch` starts. It runs torchrun's own
launcher in this process (``torch.distributed.run``: same arguments, same
behaviour) so that its outcome arrives as objects, not console text: when a
rank fails, the ``failed`` event names the root-cause rank, its exit code or
signal, its traceback (from the error file ``@record`` wrote) and the tail of
its stderr log. SIGTERM here is forwarded to the ranks by torchrun; they save
a checkpoint and rank 0 records ``stopped``.
"""

from __future__ import annotations

import argparse
import sys

from backends.launch import describe_failures, torchrun_log_dir
from backends.runs import TERMINAL_EVENTS, RunDir, read_events, record_event


def _ended(run: RunDir) -> bool:
    return any(e.get("kind") in TERMINAL_EVENTS for e in read_events(run)[-20:])


def _latest_checkpoint(run: RunDir) -> str | None:
    from backends.checkpoint import list_checkpoints

    found = list_checkpoints(run.checkpoints_dir)
    return str(found[-1]) if found else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("usage: python -m backends.train.supervise --run-dir RUN -- TORCHRUN_ARGS", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m backends.train.supervise")
    parser.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv[:split])
    run = RunDir(__import__("pathlib").Path(args.run_dir))

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    try:
        torchrun(parse_args(argv[split + 1 :]))
    except ChildFailedError as exc:
        if not any(e.get("kind") == "stopped" for e in read_events(run)[-5:]):
            record_event(run, "failed", **describe_failures(exc.failures, torchrun_log_dir(run)))
        return 1
    except SignalException as exc:
        if not _ended(run):
            record_event(
                run, "stopped", signal=exc.sigval.name, checkpoint=_latest_checkpoint(run),
                note="the ranks did not finish their step in time; the last checkpoint is kept",
            )
        return 0
    except Exception as exc:  # rendezvous errors, bad arguments: nothing ran
        if not _ended(run):
            record_event(run, "failed", rank=None, exit_code=None, message=f"{type(exc).__name__}: {exc}")
        raise
    if not _ended(run):
        record_event(run, "failed", rank=None, exit_code=0,
                     message="the ranks exited without recording the end of training")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
