"""A large run in the Monitor: its history is drawn from min/max overviews, and a plot zoomed in on
part of it shows every point of that part, read from the run's metric columns on a worker."""

from __future__ import annotations

import numpy as np

from backends.runs import MetricsWriter, create_run, record_event

STEPS = 20_000


def _large_run(runs_dir, monkeypatch):
    import backends.runs.column_reader as column_reader

    monkeypatch.setattr(column_reader, "LARGE_RUN_BYTES", 64 * 1024)  # this run counts as large
    run = create_run(runs_dir, "big", {"model": "gpt", "steps": STEPS})
    record_event(run, "started", step=0)
    with MetricsWriter(run, 0) as writer:
        for step in range(1, STEPS + 1):
            # A spike the overview must keep, in the range the test zooms in on.
            writer.write(step, loss=50.0 if step == 5010 else 1.0 / step)
    record_event(run, "finished", step=STEPS)
    return run


def test_zooming_in_on_a_large_run_draws_every_point_of_the_range(qtbot, runs_context,
                                                                  make_monitor, monkeypatch):
    run = _large_run(runs_context.runs_dir, monkeypatch)
    panel = make_monitor()
    panel.select_runs([run.path])
    plot, key = panel.plots["loss"], "big|train|loss|0"
    qtbot.waitUntil(lambda: key in plot.curve_keys() and len(plot.curve_data(key)[0]) > 0,
                    timeout=20000)
    steps, values = plot.curve_data(key)
    # The whole run is an overview: far fewer points than steps, the spike and the last step kept.
    assert len(steps) < STEPS / 2 and values.max() == 50.0 and steps[-1] == STEPS
    assert not set(range(5000, 5021)) <= set(steps.astype(int).tolist())

    plot.plotItem.vb.setXRange(5000, 5020, padding=0)
    qtbot.waitUntil(lambda: plot.curve_detail(key) is not None, timeout=10000)
    panel.redraw()
    steps, values = plot.curve_data(key)
    inside = (steps >= 5000) & (steps <= 5020)
    assert steps[inside].astype(int).tolist() == list(range(5000, 5021))
    expected = [50.0 if s == 5010 else 1.0 / s for s in range(5000, 5021)]
    assert np.allclose(values[inside], expected)
    assert np.all(np.diff(steps) > 0)  # overview outside, detail inside: one ordered curve

    plot.plotItem.vb.setXRange(0, STEPS + 1, padding=0)  # all of it in view again: the overview
    qtbot.waitUntil(lambda: plot.curve_detail(key) is None, timeout=10000)


def test_zooming_in_on_wall_time_draws_every_step_written_in_those_seconds(qtbot, runs_context,
                                                                        make_monitor, monkeypatch):
    import json

    import backends.runs.column_reader as column_reader

    monkeypatch.setattr(column_reader, "LARGE_RUN_BYTES", 64 * 1024)
    run = create_run(runs_context.runs_dir, "timed", {"model": "gpt", "steps": STEPS})
    run.metrics_dir.mkdir(exist_ok=True)
    with open(run.metrics_path(0), "w") as f:  # one step every 0.5 s, from another tool
        for step in range(1, STEPS + 1):
            f.write(json.dumps({"v": 1, "t": 1000.0 + step / 2, "step": step, "rank": 0,
                                "kind": "train", "loss": 1.0 / step}) + "\n")
    panel = make_monitor()
    panel.select_runs([run.path])
    plot, key = panel.plots["loss"], "timed|train|loss|0"
    qtbot.waitUntil(lambda: key in plot.curve_keys() and len(plot.curve_data(key)[0]) > 0,
                    timeout=20000)
    panel.x_axis_box.setCurrentText("Wall time")
    panel.redraw()
    plot.plotItem.vb.setXRange(2500, 2510, padding=0)  # seconds since the first record
    qtbot.waitUntil(lambda: plot.curve_detail(key) is not None, timeout=10000)
    panel.redraw()
    seconds, values = plot.curve_data(key)
    inside = (seconds >= 2500) & (seconds <= 2510)
    # Steps 5001..5021 were written between 2500 and 2510 s after step 1: every one is drawn.
    assert np.allclose(values[inside], 1.0 / np.arange(5001, 5022))
