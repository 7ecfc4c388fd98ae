"""The script client: records like the trainer's, samples, stop, and how ranks find one folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backends import client
from backends.monitor_data import RunMetrics, export_metrics_csv
from backends.runs import JsonlTail, create_run, list_runs, read_events, status_from_events

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "WORKBENCH_RUN_DIR")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "user_script.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_run_opened_from_the_environment_gets_the_trainers_records(tmp_path, monkeypatch):
    run_dir = create_run(tmp_path / "runs", "mine", {"source": "script"})
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(run_dir.path))
    with client.init(steps=3, memory_interval=0) as run:
        assert run.path == run_dir.path.resolve() and run.launched
        for step in (1, 2, 3):
            run.log(step, loss=1.0 / step, lr=np.float32(0.5))
        run.log_eval(3, loss=0.7)
    records = JsonlTail(run_dir.metrics_path(0)).read_new()
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3] and train[-1]["lr"] == 0.5
    assert [r["loss"] for r in records if r["kind"] == "val"] == [0.7]
    memory = [r for r in records if r["kind"] == "memory"]
    assert memory and memory[0]["rss"] > 0
    assert "param_bytes" not in memory[0]  # nothing watched: no false zero
    events = read_events(run_dir)
    assert [e["kind"] for e in events] == ["created", "started", "finished"]
    assert events[-1]["final_loss"] == pytest.approx(1 / 3) and events[-1]["step"] == 3
    # The monitor's own reader and the CSV export take it as a workbench run.
    metrics = RunMetrics()
    metrics.add_records(0, records)
    assert metrics.latest("train", "loss") == pytest.approx(1 / 3)
    assert export_metrics_csv([run_dir], tmp_path / "out.csv") == len(records)
    assert list_runs(tmp_path / "runs")[0].status == "finished"


def test_images_and_text_become_samples(tmp_path, monkeypatch):
    run_dir = create_run(tmp_path / "runs", "samples", {})
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(run_dir.path))
    run = client.init(memory_interval=0)
    batch = np.zeros((3, 1, 4, 5), dtype=np.float32)
    batch[1] = 1.0
    png = run.log_images(7, batch, columns=3)
    text = run.log_text(7, "once upon a time")
    run.finish()
    pixels = np.asarray(Image.open(png))
    assert pixels.shape == (4 + 4, 3 * 7 + 2)  # 2-pixel gaps around 3 tiles of 4 x 5
    assert pixels[2:6, 2:7].max() == 0 and pixels[2:6, 9:14].min() == 255
    assert text.read_text() == "once upon a time"
    samples = [e for e in read_events(run_dir) if e["kind"] == "sample"]
    assert [Path(e["path"]).name for e in samples] == ["step_0000007.png", "step_0000007.txt"]


def test_watched_model_counts_its_tensor_bytes_and_stop_file_stops(tmp_path, monkeypatch):
    import torch

    run_dir = create_run(tmp_path / "runs", "watched", {})
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(run_dir.path))
    run = client.init(memory_interval=0)
    model = torch.nn.Linear(10, 10)
    optimizer = torch.optim.AdamW(model.parameters())
    run.watch(model, optimizer)
    model(torch.ones(2, 10)).sum().backward()
    optimizer.step()
    assert not run.should_stop()
    (run_dir.path / "stop").write_text("")
    assert run.should_stop()
    run.log(1, loss=0.5)
    run.checkpoint(1, tmp_path / "ckpt.pt")
    run.finish()
    memory = [r for r in JsonlTail(run_dir.metrics_path(0)).read_new() if r["kind"] == "memory"]
    assert memory[-1]["param_bytes"] == 110 * 4 == memory[-1]["grad_bytes"]
    assert memory[-1]["optim_bytes"] == 2 * 110 * 4 + 2 * 4  # exp_avg, exp_avg_sq, a step per tensor
    end = read_events(run_dir)[-1]
    assert end["kind"] == "stopped" and end["checkpoint"] == str(tmp_path / "ckpt.pt")
    assert end["reason"] == "stop file"


def test_ranks_started_by_hand_agree_on_one_new_run(tmp_path):
    """Two ranks of one launch (same agent) find the folder rank 0 created; no torch needed."""
    script = _script(tmp_path, """
        import sys
        from backends import client
        run = client.init("agree", memory_interval=0)
        run.log(1, loss=float(run.rank))
        run.finish()
        print(run.path)
        assert "torch" not in sys.modules
    """)
    runs = tmp_path / "runs"
    create_run(runs, "agree", {})  # an older run of that name is never reused
    common = {"WORKBENCH_RUNS_DIR": str(runs), "WORLD_SIZE": "2", "MASTER_PORT": "29511",
              "MASTER_ADDR": "127.0.0.1", "TORCHELASTIC_RUN_ID": "none"}
    procs = [subprocess.Popen([sys.executable, str(script)], env=_env(RANK=str(r), **common),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for r in (1, 0)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    paths = {out.strip() for out, _err in outputs}
    assert paths == {str((runs / "agree-2").resolve())}
    folder = runs / "agree-2"
    assert sorted(p.name for p in (folder / "metrics").glob("*.jsonl")) == ["rank_0.jsonl", "rank_1.jsonl"]
    config = (folder / "config.toml").read_text()
    assert 'source = "script"' in config and "nproc = 2" in config


def test_a_script_started_by_hand_that_raises_ends_failed_with_its_traceback(tmp_path):
    script = _script(tmp_path, """
        from backends import client
        run = client.init("crash", memory_interval=0)
        run.log(1, loss=2.0)
        raise ValueError("bad batch")
    """)
    result = subprocess.run([sys.executable, str(script)], env=_env(WORKBENCH_RUNS_DIR="runs"),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "ValueError: bad batch" in result.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    from backends.runs import RunDir

    events = read_events(RunDir(run_dir))
    assert status_from_events(events) == "failed"
    failed = events[-1]
    assert failed["rank"] == 0 and failed["message"] == "ValueError: bad batch"
    assert 'user_script.py", line 5' in failed["traceback"]
    assert [e["kind"] for e in events].count("error") == 1


@pytest.mark.parametrize("signum", [15, 2])
def test_a_signal_to_a_script_that_never_asks_still_ends_the_run(tmp_path, signum):
    script = _script(tmp_path, """
        import signal, time
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
        from backends import client
        run = client.init("deaf", memory_interval=0)
        run.log(1, loss=1.0)
        print("ready", flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, str(script)], env=_env(WORKBENCH_RUNS_DIR="runs"),
                               cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signum)
    # Ended as without the client: by SIGTERM, or by SIGINT's KeyboardInterrupt (which Python
    # reports as death by SIGINT).
    assert process.wait(timeout=30) == -signum
    from backends.runs import RunDir

    events = read_events(RunDir(next((tmp_path / "runs").iterdir())))
    assert events[-1]["kind"] == "stopped" and events[-1]["step"] == 1


def test_importing_the_client_pulls_in_no_qt_and_no_torch():
    code = ("import sys; from backends import client; "
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph'))))")
    result = subprocess.run([sys.executable, "-c", "import json; " + code], env=_env(),
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert json.loads(result.stdout) == [], result.stderr
