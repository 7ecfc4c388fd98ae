"""Every ``workbench ...`` line of the README's code blocks runs as written.

The lines are read from the README at test time, so the README cannot drift
from the program. They run in order in one fresh folder (a later line may use
what an earlier one made, as ``train ... --resume`` does), each in a new process
with private settings and offscreen Qt. Only two things differ from a user's
terminal, both through environment variables the program reads:

* ``WORKBENCH_STEPS_SCALE`` shortens every training run (steps x 0.02, at least 1);
* ``WORKBENCH_EXIT_WHEN_SHOWN`` closes the window as soon as it is shown, for the
  line that opens the application.

Rule for lines that are not run: a line that needs a GPU (``device=cuda`` on a
machine without one), several machines (``nnodes`` above 1 without
``--print-command``, which only prints the commands), another machine (``hosts
check``, ``--host``: tests send traffic to loopback only) or the reader's own model
folder (a path under ``~/``, e.g. a downloaded Hugging Face model) is skipped,
and says why.
Lines that do not start with ``workbench`` (the install lines) are not examples
of the command line and are not collected.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
# "[--json]" or "<name>" stand for something to type; '[{"role": ...}]' and "<|im_end|>" are values.
PLACEHOLDER = re.compile(r"^(\[-|\[[A-Za-z]|<[A-Za-z_ -]+>$)")


def readme_commands(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line starting with ``workbench`` inside a fenced block."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            stripped = stripped.removeprefix("$ ")
            if stripped == "workbench" or stripped.startswith("workbench "):
                out.append((number, stripped))
    return out


def skip_reason(argv: list[str]) -> str | None:
    """Why a README line cannot run on this machine (see the module doc), or None."""
    text = " ".join(argv)
    if "--print-command" not in argv:
        nodes = re.search(r"nnodes=(\d+)", text)
        if nodes and int(nodes.group(1)) > 1:
            return "needs several machines"
    if "--host" in argv or argv[1:3] == ["hosts", "check"]:
        return "reaches another machine"
    if any(a.startswith("~/") for a in argv):
        return "needs your own model folder"
    if "device=cuda" in text:
        import torch

        if not torch.cuda.is_available():
            return "needs a GPU"
    return None


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_has_command_line_examples():
    assert len(COMMANDS) >= 10
    # Each line is runnable as written: no [optional] placeholders or <names>.
    for number, line in COMMANDS:
        argv = shlex.split(line, comments=True)
        assert not any(PLACEHOLDER.match(a) for a in argv), (number, line)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # A fresh folder that holds what a checkout holds beside the README (the examples).
    made = tmp_path_factory.mktemp("readme")
    (made / "examples").symlink_to(README.parent / "examples")
    return made


@pytest.mark.parametrize(("number", "line"), COMMANDS, ids=[f"README:{n}" for n, _ in COMMANDS])
def test_readme_line_runs_as_written(number, line, folder):
    argv = shlex.split(line, comments=True)
    reason = skip_reason(argv)
    if reason:
        pytest.skip(f"README line {number} {reason}: {line}")
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_RUNS_DIR"}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        WORKBENCH_SETTINGS=str(folder / "settings.ini"),
        WORKBENCH_STEPS_SCALE="0.02",
        WORKBENCH_EXIT_WHEN_SHOWN="1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *argv[1:]],
        capture_output=True, text=True, cwd=folder, env=env, timeout=600,
    )
    assert result.returncode == 0, f"README line {number}: {line}\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
