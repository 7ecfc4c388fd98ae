"""Metric columns: a large run's records kept as binary columns, reduced for plots, read on demand."""

from __future__ import annotations

import json

import numpy as np

from backends.metric_columns import ColumnReader, RankColumns, decimate
from backends.monitor_data import RunMetrics
from backends.runs import create_run


def _write(run, rank, steps, start=1, torn=False):
    run.metrics_dir.mkdir(exist_ok=True)
    with open(run.metrics_path(rank), "a") as f:
        for step in range(start, start + steps):
            f.write(json.dumps({"v": 1, "t": 1000.0 + step, "step": step, "rank": rank, "kind": "train",
                                "loss": 1.0 / step, "lr": 0.1}) + "\n")
        if torn:
            f.write('{"v": 1, "t": 1.0, "st')


def test_columns_hold_every_point_and_resume_from_their_offset(tmp_path):
    run = create_run(tmp_path, "big", {"model": "gpt"})
    _write(run, 0, 500, torn=True)
    columns = RankColumns(run, 0)
    assert len(columns.update()) == 500
    steps, times, values = columns.read("train", "loss")
    assert steps.tolist() == list(range(1, 501)) and np.allclose(values, 1.0 / steps)
    # A new reader (the next opening) starts where the columns end: no record twice.
    with open(run.metrics_path(0), "a") as f:
        f.write('ep": 501}\n')  # the torn line completes (not a train record with t: skipped)
    _write(run, 0, 100, start=501)
    again = RankColumns(run, 0)
    assert [r["step"] for r in again.update()][-1] == 600
    steps, _t, _v = again.read("train", "loss")
    assert steps.tolist() == list(range(1, 601))
    assert again.read("train", "loss", 100, 110)[0].tolist() == list(range(100, 111))


def test_an_append_the_index_never_saw_is_undone(tmp_path):
    run = create_run(tmp_path, "big", {"model": "gpt"})
    _write(run, 0, 50)
    columns = RankColumns(run, 0)
    columns.update()
    file = columns.folder / columns._entry("train", "loss")[2]
    with open(file, "ab") as f:  # a crash after writing data, before the index
        f.write(np.zeros(30).tobytes())
    steps, _t, _v = RankColumns(run, 0).read("train", "loss")
    assert steps.tolist() == list(range(1, 51))


def test_overview_keeps_every_spike_in_few_points():
    n = 100_000
    values = np.sin(np.arange(n) / 500.0)
    values[12_345] = 50.0
    values[77_777] = -50.0
    points = np.stack([np.arange(n, dtype=float), np.arange(n, dtype=float), values], axis=1)
    steps, _times, reduced = decimate(points, 1000)
    assert len(steps) <= 2001 and np.all(np.diff(steps) > 0)
    assert reduced.max() == 50.0 and reduced.min() == -50.0 and steps[-1] == n - 1


def test_column_reader_gives_history_once_then_new_records(tmp_path):
    run = create_run(tmp_path, "big", {"model": "gpt"})
    for rank in range(2):
        _write(run, rank, 5000)
    reader = ColumnReader(run, buckets=100)
    update, history = reader.poll()
    assert sorted(history) == [0, 1] and not update.metrics
    metrics = RunMetrics()
    for rank, (columns, records, last_step) in history.items():
        metrics.add_columns(rank, columns, records, last_step)
    assert metrics.records == 10_000 and metrics.last_step == 5000
    assert len(metrics.get("train", "loss", 0)) <= 201
    _write(run, 1, 3, start=5001)
    update, history = reader.poll()
    assert not history and [r["step"] for r in update.metrics[1]] == [5001, 5002, 5003]


def test_a_backlog_longer_than_a_slice_is_read_whole_slice_by_slice(tmp_path, monkeypatch):
    import backends.metric_columns as mc

    monkeypatch.setattr(mc, "_PARSE_SLICE", 4096)
    run = create_run(tmp_path, "big", {"model": "gpt"})
    _write(run, 0, 3000)
    reader = ColumnReader(run, buckets=10_000)
    _update, history = reader.poll()
    columns, records, last_step = history[0]
    assert records == 3000 and last_step == 3000
    assert columns[("train", "loss")][0].tolist() == list(range(1, 3001))


def test_overviews_are_kept_for_their_offset_and_made_again_when_the_run_grows(tmp_path):
    run = create_run(tmp_path, "big", {"model": "gpt"})
    _write(run, 0, 3000)
    columns = RankColumns(run, 0)
    columns.update()
    first = columns.overviews(100)
    assert (columns.folder / "overview-100.npz").is_file()
    again = RankColumns(run, 0).overviews(100)
    assert all(np.array_equal(first[k][0], again[k][0]) for k in first)
    _write(run, 0, 10, start=3001)
    grown = RankColumns(run, 0)
    grown.update()
    assert grown.overviews(100)[("train", "loss")][0][-1] == 3010
