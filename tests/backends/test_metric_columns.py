"""Metric columns: a rank's records kept as binary columns with min/max levels, written by the
rank's writer as it logs or caught up by a reader, reduced for plots, read on demand."""

from __future__ import annotations

import json

import numpy as np

from backends.monitor_data import RunMetrics
from backends.runs import MetricsWriter, create_run
from backends.runs.column_reader import ColumnReader, read_detail
from backends.runs.columns import BLOCK, RankColumns
from backends.runs.decimation import decimate


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
    import backends.runs.columns as mc

    monkeypatch.setattr(mc, "_PARSE_SLICE", 4096)
    run = create_run(tmp_path, "big", {"model": "gpt"})
    _write(run, 0, 3000)
    reader = ColumnReader(run, buckets=10_000)
    _update, history = reader.poll()
    columns, records, last_step = history[0]
    assert records == 3000 and last_step == 3000
    assert columns[("train", "loss")][0].tolist() == list(range(1, 3001))


def _columns_of(run, rank=0):
    columns = RankColumns(run, rank)
    return {key: columns.read(*key) for key in columns.series()}, columns


def test_the_writer_keeps_the_columns_as_it_logs(tmp_path, monkeypatch):
    import backends.runs.writer as writer_module

    monkeypatch.setattr(writer_module, "COLUMN_FLUSH_RECORDS", 100)
    run = create_run(tmp_path, "logged", {"model": "gpt"})
    writer = MetricsWriter(run, 0)
    for step in range(1, 1001):
        writer.write(step, loss=1.0 / step, lr=0.1)
        if step == 950:
            writer.write(step, kind="memory", param_bytes=10, grad_bytes=20, optim_bytes=30)
    # Before close: the 1,000 records of the last flush are in the columns (read without the
    # lock), the 1,001st is not yet, and the index says exactly where the columns end.
    seen, columns = _columns_of(run)
    assert seen[("train", "loss")][0].tolist() == list(range(1, 1000))
    text = run.metrics_path(0).read_bytes()
    assert columns.offset == len(text) - len(text.splitlines(keepends=True)[-1])
    writer.close()
    seen, columns = _columns_of(run)
    assert seen[("memory", "tensor_bytes")][2].tolist() == [60.0]
    assert columns.records == 1001 and columns.last_step == 1000
    assert np.allclose(seen[("train", "loss")][2], 1.0 / seen[("train", "loss")][0])


def test_a_reader_never_appends_while_the_writer_holds_the_columns(tmp_path, monkeypatch):
    import backends.runs.writer as writer_module

    monkeypatch.setattr(writer_module, "COLUMN_FLUSH_RECORDS", 50)
    run = create_run(tmp_path, "live", {"model": "gpt"})
    writer = MetricsWriter(run, 0)
    for step in range(1, 121):  # 100 in the columns, 20 pending in the writer
        writer.write(step, loss=float(step))
    files_before = {p.name: p.stat().st_size for p in RankColumns(run, 0).folder.glob("*.f8")}
    reader = ColumnReader(run, buckets=10_000)
    _update, history = reader.poll()
    arrays, records, _last = history[0]
    assert records == 100 and arrays[("train", "loss")][0].tolist() == list(range(1, 101))
    for step in range(121, 131):
        writer.write(step, loss=float(step))
    update, _ = reader.poll()
    # The records after the columns' offset arrive once each, in order: no gap, no duplicate.
    assert [r["step"] for r in update.metrics[0]] == list(range(101, 131))
    assert files_before == {p.name: p.stat().st_size
                            for p in RankColumns(run, 0).folder.glob("*.f8")}
    writer.close()


def test_records_a_dead_writer_never_flushed_are_caught_up_by_the_next_reader(tmp_path):
    run = create_run(tmp_path, "died", {"model": "gpt"})
    writer = MetricsWriter(run, 0)
    for step in range(1, 31):
        writer.write(step, loss=float(step))
    writer._columns.unlock()  # the rank dies: the kernel drops its lock, pending records are lost
    reader = ColumnReader(run, buckets=10_000)
    _update, history = reader.poll()
    arrays, records, last = history[0]
    assert records == 30 and last == 30
    assert arrays[("train", "loss")][0].tolist() == list(range(1, 31))


def test_levels_keep_every_spike_and_an_old_index_without_levels_gets_them(tmp_path):
    run = create_run(tmp_path, "long", {"model": "gpt"})
    n = 3 * BLOCK**3 + 17  # three levels' worth of blocks and a ragged end
    values = np.sin(np.arange(n) / 900.0)
    values[n // 3] = 40.0
    values[n - 5] = -40.0
    columns = RankColumns(run, 0)
    assert columns.try_lock()
    columns.append([{"t": float(i), "step": i, "kind": "train", "loss": float(v)}
                    for i, v in enumerate(values)], offset=0)
    columns.unlock()
    steps, _t, reduced = RankColumns(run, 0).overview("train", "loss", buckets=512)
    assert len(steps) <= 2 * 512 + 1 and np.all(np.diff(steps) > 0) and steps[-1] == n - 1
    assert reduced.max() == 40.0 and reduced.min() == -40.0
    # The same picture as decimating every raw point.
    raw = np.stack([np.arange(n, dtype=float), np.arange(n, dtype=float), values], axis=1)
    full = decimate(raw, 512)
    assert reduced.max() == full[2].max() and reduced.min() == full[2].min()
    # Columns written before levels existed: the appender makes them, the picture is the same.
    for level_file in columns.folder.glob("*.L*.f8"):
        level_file.unlink()
    assert RankColumns(run, 0).try_lock()
    again = RankColumns(run, 0).overview("train", "loss", buckets=512)
    assert np.array_equal(again[0], steps) and np.array_equal(again[2], reduced)


def test_a_zoomed_range_is_read_at_full_resolution(tmp_path):
    run = create_run(tmp_path, "zoom", {"model": "gpt"})
    _write(run, 0, 20_000)
    RankColumns(run, 0).update(collect=False)
    overview = RankColumns(run, 0).overview("train", "loss", buckets=100)
    assert not set(range(5000, 5021)) <= set(overview[0].tolist())  # the overview skips most
    steps, _times, values = read_detail(run, 0, "train", "loss", 5000, 5020, buckets=100)
    assert steps.tolist() == list(range(5000, 5021)) and np.allclose(values, 1.0 / steps)
    wide = read_detail(run, 0, "train", "loss", 1, 20_000, buckets=100)
    assert len(wide[0]) <= 201 and wide[0][-1] == 20_000


def test_an_overview_starts_and_ends_where_the_series_does_and_a_flat_series_stays_one_line(tmp_path):
    """A series of exactly 64**2 * 3 points (no raw tail after the levels) still ends at its last
    step; a constant series (a fixed learning rate) never repeats a step, which would read as a
    resume and break the curve into dots."""
    run = create_run(tmp_path, "flat", {"model": "gpt"})
    n = 3 * BLOCK * BLOCK
    columns = RankColumns(run, 0)
    assert columns.try_lock()
    columns.append([{"t": float(i), "step": i, "kind": "train", "lr": 3e-4, "loss": 1.0 + (i % 7)}
                    for i in range(1, n + 1)], offset=0)
    columns.unlock()
    for name in ("lr", "loss"):
        steps, _t, values = RankColumns(run, 0).overview("train", name, buckets=64)
        assert steps[0] == 1 and steps[-1] == n
        assert np.all(np.diff(steps) > 0)
    assert set(RankColumns(run, 0).overview("train", "lr", buckets=64)[2]) == {3e-4}
    steps, _t, values = decimate(np.stack([np.arange(1000.0)] * 2 + [np.full(1000, 2.0)], axis=1), 10)
    assert steps[0] == 0 and steps[-1] == 999 and np.all(np.diff(steps) > 0)
