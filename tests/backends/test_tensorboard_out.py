"""``workbench export --tensorboard/--csv``, read back by tensorboard's own EventAccumulator."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from backends import client
from backends.runs import JsonlTail, MetricsWriter, create_run

ROOT = Path(__file__).resolve().parents[2]


def _made_run(tmp_path, monkeypatch):
    run_dir = create_run(tmp_path / "runs", "exported", {"source": "script", "nproc": 2})
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(run_dir.path))
    rng = np.random.default_rng(1)
    with client.init(memory_interval=0) as run:
        other = MetricsWriter(run_dir, 1)  # what rank 1's client writes, from its own process
        for step in range(1, 31):
            run.log(step, loss=float(rng.normal()), lr=1e-3 * step)
            other.write(step, "train", loss=float(rng.normal()), lr=1e-3 * step)
            other.write(step, "memory", rss=int(rng.integers(1 << 30, 1 << 33)), device="cpu")
        run.log_eval(30, loss=0.25)
        run.log_images(30, rng.random((2, 3, 4, 4)))
        run.log_text(30, "a sample")
        other.close()
    return run_dir


def test_export_reads_back_in_tensorboard_with_every_value_equal(tmp_path, monkeypatch):
    run_dir = _made_run(tmp_path, monkeypatch)
    out = tmp_path / "tb"
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "export", str(run_dir.path), "--tensorboard", str(out),
         "--csv", str(tmp_path / "m.csv"), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    written = json.loads(result.stdout)
    assert written["tensorboard"]["images"] == 1 and written["tensorboard"]["texts"] == 1

    accumulator = EventAccumulator(str(out), size_guidance={"tensors": 0, "images": 0})
    accumulator.Reload()

    def read(tag):
        return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]

    expected: dict[str, list[tuple[int, float]]] = {}
    for rank in (0, 1):
        for record in JsonlTail(run_dir.metrics_path(rank)).read_new():
            prefix = "" if record["kind"] in ("train", "memory") else f"{record['kind']}/"
            for name, value in record.items():
                if name in ("v", "t", "step", "rank", "kind") or isinstance(value, str):
                    continue
                expected.setdefault(f"rank{rank}/{prefix}{name}", []).append((record["step"], value))
                if rank == 0:
                    expected.setdefault(f"{prefix}{name}", []).append((record["step"], value))
    tags = set(accumulator.Tags()["tensors"])
    assert tags == set(expected) | {"samples/text"}
    text = accumulator.Tensors("samples/text")
    assert tensor_util.make_ndarray(text[0].tensor_proto).item() == b"a sample"
    assert {"loss", "rank0/loss", "rank1/loss", "rank1/rss", "val/loss", "rss"} <= tags
    for tag, values in expected.items():
        assert read(tag) == values, tag  # exact: doubles, not float32
    image = accumulator.Images("samples")
    assert len(image) == 1 and image[0].step == 30
    assert image[0].encoded_image_string == (run_dir.samples_dir / "step_0000030.png").read_bytes()

    with open(tmp_path / "m.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == written["csv"]["rows"] == sum(
        len(JsonlTail(p).read_new()) for p in run_dir.metrics_files().values())
    assert {row["rank"] for row in rows} == {"0", "1"}


def test_export_says_what_it_needs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbench", "export", str(tmp_path / "nope"),
                             "--csv", str(tmp_path / "x.csv")],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "is not a folder" in result.stderr
