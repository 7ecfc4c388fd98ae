"""The run watcher turns appended records into signals, batched, with problems reported."""

from __future__ import annotations

from backends.runs import MetricsWriter, create_run, record_event
from workbench.run_watcher import RunWatcher


def test_watcher_emits_existing_and_new_records_once(qtbot, tmp_path):
    run = create_run(tmp_path, "watched", {"model": "gpt"})
    writer = MetricsWriter(run, 0)
    writer.write(0, loss=3.0)
    watcher = RunWatcher(interval=0.02)
    steps, events, problems = [], [], []
    watcher.sig_metrics.connect(lambda path, rank, records: steps.extend(r["step"] for r in records))
    watcher.sig_events.connect(lambda path, evs: events.extend(e["kind"] for e in evs))
    watcher.sig_problem.connect(lambda path, text: problems.append(text))
    try:
        watcher.watch(run.path)
        qtbot.waitUntil(lambda: steps == [0] and events == ["created"], timeout=3000)
        record_event(run, "started")
        for step in range(1, 50):
            writer.write(step, loss=3.0 / (step + 1))
        with open(run.metrics_path(0), "ab") as f:
            f.write(b"not json\n")
        qtbot.waitUntil(lambda: len(steps) == 50 and len(problems) == 1, timeout=3000)
        assert steps == list(range(50))
        assert events == ["created", "started"]
        assert "not a JSON object" in problems[0]
    finally:
        watcher.stop()
        writer.close()
