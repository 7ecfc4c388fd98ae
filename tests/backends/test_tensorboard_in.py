"""TensorBoard logs read as runs, against the real writer (torch's SummaryWriter over tensorboard)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorboard")
from torch.utils.tensorboard import SummaryWriter

from backends.monitor_data import RunMetrics
from backends.run_sources import latest_sample_of, open_reader
from backends.runs import create_run, list_runs
from backends.tensorboard import find_runs, is_tensorboard_run
from backends.tensorboard.reader import TensorBoardReader, event_files
from backends.tensorboard.records import RecordTail, frame

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))


def _values(records, tag):
    return [(r["step"], r[tag]) for r in records if tag in r]


def _poll_until(reader, done, timeout=10.0):
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got += reader.poll().metrics.get(0, [])
        if done(got):
            break
        time.sleep(0.01)
    return got


def test_scalars_of_both_encodings_and_an_image_read_back_equal_while_the_writer_is_open(tmp_path):
    folder = tmp_path / "logs" / "exp1"
    writer = SummaryWriter(log_dir=str(folder))
    reader = open_reader(folder)
    assert isinstance(reader, TensorBoardReader)
    rng = np.random.default_rng(0)
    expected_simple = rng.normal(size=20).astype(np.float32)
    expected_tensor = rng.normal(size=20).astype(np.float32)
    expected_double = rng.normal(size=20)
    for step in range(20):
        writer.add_scalar("train/loss", expected_simple[step], step)  # simple_value
        writer.add_scalar("train/lr", expected_tensor[step], step, new_style=True)  # float tensor
        writer.add_scalar("eval/accuracy", expected_double[step], step, new_style=True,
                          double_precision=True)  # double tensor
    pixels = (rng.random((3, 6, 5)) * 255).astype(np.uint8)
    writer.add_image("samples", pixels, 19)
    # No flush, no close: tensorboard's writer thread appends each record within milliseconds
    # (no TensorFlow here), so polling as the monitor does finds them all.
    records = _poll_until(reader, lambda got: len(_values(got, "loss")) == 20
                          and len(_values(got, "accuracy")) == 20)
    # train/<field> is the train field, eval/<field> the val field, as the trainer writes them.
    assert _values(records, "loss") == [(s, float(v)) for s, v in enumerate(expected_simple)]
    assert _values(records, "lr") == [(s, float(v)) for s, v in enumerate(expected_tensor)]
    assert _values(records, "accuracy") == [(s, float(v)) for s, v in enumerate(expected_double)]
    assert {r["kind"] for r in records if "accuracy" in r} == {"val"}
    assert {r["kind"] for r in records if "loss" in r} == {"train"}

    # Appended later: only the new records come back.
    writer.add_scalar("train/loss", 0.125, 20)
    writer.flush()
    assert _values(reader.poll().metrics[0], "loss") == [(20, 0.125)]
    assert not reader.poll()
    writer.close()
    assert not reader.poll()

    sample = latest_sample_of(folder)
    assert sample is not None and sample.name == "step_0000019_samples.png"
    assert np.array_equal(np.asarray(Image.open(sample)), pixels.transpose(1, 2, 0))
    # The Monitor's series take them like a workbench run's.
    metrics = RunMetrics()
    metrics.add_records(0, records)
    assert metrics.latest("train", "loss") == pytest.approx(expected_simple[-1])


def test_a_torn_record_is_held_back_and_a_corrupt_one_is_reported(tmp_path):
    folder = tmp_path / "torn"
    writer = SummaryWriter(log_dir=str(folder))
    writer.add_scalar("loss", 1.5, 1)
    writer.close()
    path = event_files(folder)[0]
    whole = path.read_bytes()
    reader = TensorBoardReader(folder)
    first = reader.read_records()
    assert _values(first, "loss") == [(1, 1.5)]

    # Copy a second record in two halves: nothing until its last byte is there.
    from tensorboard.compat.proto import event_pb2, summary_pb2

    event = event_pb2.Event(step=2, wall_time=2.0, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="loss", simple_value=0.75)]))
    record = frame(event.SerializeToString())
    with open(path, "ab") as f:
        f.write(record[:-3])
    assert reader.read_records() == []
    with open(path, "ab") as f:
        f.write(record[-3:])
    assert _values(reader.read_records(), "loss") == [(2, 0.75)]
    assert reader.offsets()[path.name] == len(whole) + len(record)

    bad = bytearray(frame(event.SerializeToString()))
    bad[14] ^= 0xFF  # one payload byte flipped
    with open(path, "ab") as f:
        f.write(bytes(bad))
    update = reader.poll()
    assert not update.metrics and "bad data checksum" in update.problems[0]


def test_large_records_across_read_slices(tmp_path, monkeypatch):
    import backends.tensorboard.records as records

    monkeypatch.setattr(records, "_READ_SLICE", 64)
    path = tmp_path / "events.out.tfevents.1.host"
    payloads = [bytes([i]) * (10 + 30 * i) for i in range(6)]
    path.write_bytes(b"".join(frame(p) for p in payloads))
    assert RecordTail(path).read_new() == payloads


def test_tensorboard_folders_are_listed_as_runs_beside_workbench_runs(tmp_path):
    runs = tmp_path / "runs"
    create_run(runs, "own", {"model": "gpt"})
    for sub in ("Dec07_host", "lightning_logs/version_0"):
        with SummaryWriter(log_dir=str(runs / sub)) as writer:
            writer.add_scalar("loss", 1.0, 1)
    listed = {s.name: s for s in list_runs(runs)}
    assert set(listed) == {"own", "Dec07_host", "lightning_logs/version_0"}
    assert listed["own"].source == "workbench"
    assert listed["Dec07_host"].source == "tensorboard" and listed["Dec07_host"].status == "live"
    assert is_tensorboard_run(runs / "lightning_logs" / "version_0")
    assert not is_tensorboard_run(runs / "own")
    assert [s.name for s in find_runs(runs / "lightning_logs")] == ["version_0"]

    result = subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(runs), "runs",
                             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["Dec07_host"]["source"] == "tensorboard" and rows["own"]["source"] == "workbench"
    text = subprocess.run([sys.executable, "-m", "workbench", "--runs-dir", str(runs), "runs"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    lines = {line.split()[0]: line for line in text.splitlines()}
    assert lines["Dec07_host"].endswith("[tensorboard log]") and "tensorboard" not in lines["own"]


def test_an_image_in_the_images_plugin_tensor_encoding(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

    buffer = io.BytesIO()
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(buffer, format="PNG")
    value = summary_pb2.Summary.Value(
        tag="gen", tensor=tensor_pb2.TensorProto(dtype=7, string_val=[b"4", b"4", buffer.getvalue()]))
    value.metadata.plugin_data.plugin_name = "images"
    event = event_pb2.Event(step=3, wall_time=1.0, summary=summary_pb2.Summary(value=[value]))
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "events.out.tfevents.1.h").write_bytes(frame(event.SerializeToString()))
    TensorBoardReader(folder).poll()
    assert np.asarray(Image.open(latest_sample_of(folder))).min() == 200


def test_a_folder_watched_before_its_writer_starts_is_read_once_it_writes(tmp_path):
    folder = tmp_path / "early"
    folder.mkdir()
    reader = open_reader(folder)
    assert not reader.poll()
    with SummaryWriter(log_dir=str(folder)) as writer:
        writer.add_scalar("loss", 0.5, 1)
    assert _values(reader.poll().metrics[0], "loss") == [(1, 0.5)]


def test_tag_names_map_to_the_trainers_kinds_and_fields():
    from backends.tensorboard.events import split_tag

    assert split_tag("train/loss") == ("train", "loss")
    assert split_tag("train/learning_rate") == ("train", "learning_rate")
    assert split_tag("eval/loss") == ("val", "loss")
    assert split_tag("val_loss") == ("val", "val_loss")
    assert split_tag("Loss/train") == ("train", "Loss/train")
    assert split_tag("value_loss") == ("train", "value_loss")
    assert split_tag("rank1/val/loss") == ("train", "rank1/val/loss")


def test_the_batch_decoder_reads_what_tensorboards_own_reader_reads(tmp_path):
    """Long logs go through the numpy path; every value must equal EventAccumulator's."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.util import tensor_util

    from backends.tensorboard.wire import decode_fast

    folder = tmp_path / "long"
    rng = np.random.default_rng(3)
    steps = [*range(0, 300), *range(16370, 16400)]  # varints of 0 (omitted), 1, 2 and 3 bytes
    with SummaryWriter(log_dir=str(folder)) as writer:
        for step in steps:
            writer.add_scalar("train/loss", rng.normal(), step)
            writer.add_scalar("train/lr", rng.normal(), step, new_style=True)
            writer.add_scalar("eval/acc", rng.normal(), step, new_style=True, double_precision=True)
            writer.add_scalar("b", rng.normal(), step)  # same length as another tag's events
            writer.add_scalar("c", rng.normal(), step)
            if step == 150:
                writer.add_image("img", np.zeros((3, 4, 4)), step)
    payloads = RecordTail(event_files(folder)[0]).read_new()
    fast, left = decode_fast(payloads, Event.FromString)
    assert len(fast.index) > 0.9 * 5 * len(steps)  # nearly all took the batch path

    columns = TensorBoardReader(folder).read_records()
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    theirs = {tag: [(e.step, e.wall_time, e.value) for e in accumulator.Scalars(tag)]
              for tag in accumulator.Tags()["scalars"]}
    theirs.update({tag: [(e.step, e.wall_time, float(tensor_util.make_ndarray(e.tensor_proto)))
                         for e in accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"]})
    names = {"train/loss": ("train", "loss"), "train/lr": ("train", "lr"),
             "eval/acc": ("val", "acc"), "b": ("train", "b"), "c": ("train", "c")}
    assert set(theirs) == set(names)
    for tag, key in names.items():
        _rows, step, wall, value = columns.columns[key]
        mine = list(zip(step.tolist(), wall.tolist(), value.tolist(), strict=True))
        assert mine == theirs[tag], tag
    # Rows are in file order, one per value.
    order = sorted((int(r), key) for key, cols in columns.columns.items() for r in cols[0])
    assert [r for r, _ in order] == list(range(5 * len(steps)))
    assert [key for _, key in order[:5]] == [names[t] for t in ("train/loss", "train/lr",
                                                                 "eval/acc", "b", "c")]


def test_columns_filed_in_slices_equal_columns_filed_at_once(tmp_path):
    folder = tmp_path / "sliced"
    with SummaryWriter(log_dir=str(folder)) as writer:
        for step in range(1, 400):
            writer.add_scalar("train/loss", 1.0 / step, step)
            writer.add_scalar("eval/loss", 2.0 / step, step)
    columns = TensorBoardReader(folder).read_records()
    assert len(columns) == 798
    whole, sliced = RunMetrics(), RunMetrics()
    whole.add_records(0, columns)
    for start in range(0, len(columns), 100):  # as the monitor files a long history
        sliced.add_records(0, columns[start : start + 100])
    for kind in ("train", "val"):
        a, b = whole.get(kind, "loss", 0), sliced.get(kind, "loss", 0)
        assert np.array_equal(a.step.view, b.step.view) and np.array_equal(a.value.view, b.value.view)
        assert a.step.view.tolist() == list(range(1, 400))
    assert whole.records == sliced.records == 798 and whole.last_step == sliced.last_step == 399
