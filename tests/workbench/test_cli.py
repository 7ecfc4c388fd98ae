"""The ``workbench`` command as a user types it, in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

import workbench
from backends.runs import MetricsWriter, create_run


def workbench_cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, cwd=cwd,
        env=env, timeout=120,
    )


def test_version():
    result = workbench_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"workbench {workbench.__version__}"


@pytest.mark.parametrize("args", [["--no-such-option"], ["no-such-verb"], ["runs", "--bogus"]])
def test_bad_options_give_one_line_and_a_nonzero_exit(args):
    result = workbench_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "--help" in lines[0]
    assert "Traceback" not in result.stderr


def test_screenshot_writes_a_png_of_the_window(tmp_path):
    out = tmp_path / "window.png"
    result = workbench_cli("screenshot", str(out), "--panel", "evaluation", "--size", "1024x700",
                           "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (1024, 700)
        # Not a blank canvas: the window drew menus, tabs and text.
        assert len(image.convert("L").getcolors(maxcolors=256) or range(256)) > 10


@pytest.mark.parametrize("args, message", [
    (["--panel", "nope"], "--panel 'nope' is unknown"),
    (["--size", "big"], "--size 'big' is not WIDTHxHEIGHT"),
])
def test_screenshot_refuses_bad_input_in_one_line(tmp_path, args, message):
    result = workbench_cli("screenshot", str(tmp_path / "x.png"), *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_runs_lists_runs_despite_garbage_and_missing_config(tmp_path):
    good = create_run(tmp_path, "good", {"model": "gpt", "strategy": "ddp", "nproc": 2, "nnodes": 1})
    with MetricsWriter(good, 0) as writer:
        writer.write(1, loss=2.5)
    with open(good.metrics_path(0), "ab") as f:
        f.write(b"{torn garbage\n")
    broken = create_run(tmp_path, "broken", {"model": "vae"})
    broken.config_path.unlink()
    result = workbench_cli("runs", "--json", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    runs = {r["name"]: r for r in json.loads(result.stdout)}
    assert runs["good"]["last_loss"] == 2.5 and runs["good"]["world_size"] == 2
    assert "config.toml" in runs["broken"]["problem"]
    text = workbench_cli("runs", "--runs-dir", str(tmp_path))
    assert "good" in text.stdout and "broken" in text.stdout


def test_screenshot_leaves_the_users_settings_as_they_were(tmp_path):
    """A screenshot reads the user's settings but never saves its window layout into them."""
    settings = tmp_path / "workbench.ini"
    settings.write_text("[General]\ntheme=light\n")
    before = settings.read_bytes()
    env = {**__import__("os").environ, "WORKBENCH_SETTINGS": str(settings)}
    result = workbench_cli("screenshot", str(tmp_path / "w.png"), "--size", "800x600",
                           "--runs-dir", str(tmp_path / "runs"), env=env)
    assert result.returncode == 0, result.stderr
    assert settings.read_bytes() == before


def test_the_resume_line_says_what_a_resume_starts_from_and_where(tmp_path):
    """A script run picks its own checkpoint: its resume never reads "step None"; a remote run
    names its host."""
    from types import SimpleNamespace

    from backends.remote.record import write_remote
    from backends.runs import create_run
    from workbench.commands.train import _resume_line

    run = create_run(tmp_path, "mine", {"source": "script", "script": "train.py"})
    line = _resume_line(SimpleNamespace(run=run, resumed_from=None))
    assert "None" not in line and "relaunching" in line and "checkpoint it keeps" in line
    assert _resume_line(SimpleNamespace(run=run, resumed_from=120)).endswith("step 120")
    write_remote(run, host="gpu1", remote_run_dir="/srv/runs/mine")
    assert " on gpu1 from the checkpoint of step 120" in _resume_line(
        SimpleNamespace(run=run, resumed_from=120))
