"""The ``workbench`` command: no verb opens the GUI; a verb runs an engine headless.

Verbs are the modules of ``workbench.commands``. Bad input is reported as one
line on stderr with a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import workbench
from workbench.commands import CommandError, discover

RUNS_DIR_ENV = "WORKBENCH_RUNS_DIR"


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line that says where to look, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="workbench",
        description="Train, watch, explore and evaluate generative models. "
        "With no verb, opens the desktop application.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {workbench.__version__}")
    parser.add_argument(
        "--runs-dir", type=Path, default=None,
        help=f"folder where runs live (default: ${RUNS_DIR_ENV}, the GUI's setting, or ./runs)",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_OneLineParser)
    for name, module in discover().items():
        sub = verbs.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        if "--runs-dir" not in sub._option_string_actions:
            # Accept --runs-dir after the verb too; SUPPRESS keeps the global value when absent.
            sub.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS,
                             help="folder where runs live")
        sub.set_defaults(_command=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Words after "--" belong to a user's script (workbench train --script FILE -- ARGS).
    passthrough: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, passthrough = argv[:split], argv[split + 1 :]
    args = parser.parse_args(argv)
    args.passthrough = passthrough
    if passthrough and not getattr(args, "accepts_passthrough", False):
        parser.error("words after -- are the arguments of a script: use them with "
                     "workbench train --script FILE.py -- ARGS")
    if args.verb is None:
        from workbench.app import run_gui  # Qt only when the GUI is wanted

        return run_gui(args.runs_dir or _env_runs_dir())
    if args.runs_dir is None:
        args.runs_dir = _env_runs_dir() or Path("runs")
    try:
        status = int(args._command.run(args) or 0)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (``workbench runs | head -1``): what it wanted was printed.
        # Point stdout at /dev/null so the interpreter's final flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CommandError as exc:
        print(f"workbench {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"workbench {args.verb}: interrupted", file=sys.stderr)
        return 130


def _env_runs_dir() -> Path | None:
    value = os.environ.get(RUNS_DIR_ENV)
    return Path(value) if value else None


if __name__ == "__main__":
    sys.exit(main())
