"""The cached runs list: the same lines as the launch service's, re-reading only what changed."""

from __future__ import annotations

from backends import launch
from backends.run_list_cache import RunListCache
from backends.runs import MetricsWriter, create_run, record_event


def _lines(runs):
    return [(r.name, r.status, r.last_step, r.last_loss) for r in runs]


def test_cached_list_matches_and_sees_changes(tmp_path, monkeypatch):
    for i in range(5):
        run = create_run(tmp_path, f"r{i}", {"model": "gpt"})
        record_event(run, "started", step=0)
        with MetricsWriter(run, 0) as w:
            w.write(1, "train", loss=1.0)
        record_event(run, "finished", step=1)
    cache = RunListCache()
    assert _lines(cache.list_runs(tmp_path)) == _lines(launch.list_runs(tmp_path))

    import backends.launch.state as state

    reads = []
    real = state.summary_for
    monkeypatch.setattr(state, "summary_for", lambda p: reads.append(p.name) or real(p))
    with MetricsWriter(type(run)(tmp_path / "r2"), 0) as w:
        w.write(2, "train", loss=0.5)
    lines = {r.name: r for r in cache.list_runs(tmp_path)}
    assert reads == ["r2"] and lines["r2"].last_loss == 0.5  # only the changed run was read
    (tmp_path / "r3" / "events.jsonl").unlink()
    (tmp_path / "r3" / "config.toml").unlink()
    assert "r3" not in {r.name for r in cache.list_runs(tmp_path)}
