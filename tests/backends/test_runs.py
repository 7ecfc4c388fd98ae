"""The run directory: concurrent writers, torn lines, garbage, status, listing."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from backends.runs import (
    JsonlTail,
    MetricsWriter,
    RunDir,
    RunDirError,
    RunReader,
    create_run,
    ensure_runs_dir,
    list_runs,
    open_run,
    read_config,
    read_events,
    record_event,
    status_from_events,
    summarize_run,
)


def _write_metrics(run_path: str, rank: int, count: int) -> None:
    run = RunDir(Path(run_path))
    with MetricsWriter(run, rank) as writer:
        for step in range(count):
            writer.write(step, loss=1.0 / (step + 1), payload="x" * (step % 50))
            if step % 10 == 0:  # both ranks append to the one shared events file
                record_event(run, "tick", rank=rank, step=step)
    record_event(run, "rank_done", rank=rank)


def test_create_run_writes_config_and_created_event(tmp_path):
    run = create_run(tmp_path, "gpt-tiny", {"model": "gpt", "lr": 3e-4, "optional": None,
                                             "nproc": 2, "nnodes": 1})
    assert read_config(run) == {"model": "gpt", "lr": 3e-4, "nproc": 2, "nnodes": 1}
    assert [e["kind"] for e in read_events(run)] == ["created"]
    for sub in ("metrics", "checkpoints", "logs", "samples"):
        assert (run.path / sub).is_dir()


def test_create_run_never_overwrites_an_earlier_run(tmp_path):
    first = create_run(tmp_path, "same", {"lr": 1.0})
    second = create_run(tmp_path, "same", {"lr": 2.0})
    assert first.path != second.path
    assert read_config(first) == {"lr": 1.0}
    assert second.name == "same-2"


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "with space"])
def test_bad_run_names_are_refused_with_the_rule(tmp_path, name):
    with pytest.raises(RunDirError, match="letters, digits"):
        create_run(tmp_path, name, {})


def test_two_processes_writing_at_once_are_read_exactly_once(tmp_path):
    run = create_run(tmp_path, "concurrent", {"nproc": 2})
    reader = RunReader(run)
    seen: dict[int, list[int]] = {0: [], 1: []}
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_metrics, args=(str(run.path), r, 3000)) for r in (0, 1)]
    for p in procs:
        p.start()
    # Poll while the writers are running, as the GUI does.
    while any(p.is_alive() for p in procs):
        for rank, records in reader.poll().metrics.items():
            seen[rank].extend(r["step"] for r in records)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    for rank, records in reader.poll().metrics.items():
        seen[rank].extend(r["step"] for r in records)
    assert seen == {0: list(range(3000)), 1: list(range(3000))}
    events = read_events(run)
    assert sorted(e["rank"] for e in events if e["kind"] == "rank_done") == [0, 1]
    for rank in (0, 1):
        ticks = [e["step"] for e in events if e["kind"] == "tick" and e["rank"] == rank]
        assert ticks == list(range(0, 3000, 10))


def test_torn_last_line_is_held_back_and_picked_up_when_completed(tmp_path):
    path = tmp_path / "rank_0.jsonl"
    line = json.dumps({"step": 2, "loss": 0.5}).encode()
    path.write_bytes(b'{"step": 1, "loss": 1.0}\n' + line[:7])
    tail = JsonlTail(path)
    assert [r["step"] for r in tail.read_new()] == [1]
    assert tail.read_new() == []  # still torn: nothing new, nothing lost
    with open(path, "ab") as f:
        f.write(line[7:] + b"\n")
    assert [r["step"] for r in tail.read_new()] == [2]
    assert tail.bad_lines == []


def test_garbage_line_is_skipped_and_reported_not_fatal(tmp_path):
    path = tmp_path / "rank_0.jsonl"
    path.write_bytes(b'{"step": 1}\nthis is not json\n[1, 2]\n{"step": 2}\n')
    tail = JsonlTail(path)
    assert [r["step"] for r in tail.read_new()] == [1, 2]
    assert len(tail.bad_lines) == 2
    assert "byte 12" in tail.bad_lines[0]


def test_reader_resumes_from_an_offset_without_rereading(tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "w") as f:
        for step in range(10_000):
            f.write(json.dumps({"step": step}) + "\n")
    first = JsonlTail(path)
    assert len(first.read_new()) == 10_000
    with open(path, "a") as f:
        f.write(json.dumps({"step": 10_000}) + "\n")
    resumed = JsonlTail(path, offset=first.offset)
    assert [r["step"] for r in resumed.read_new()] == [10_000]


def test_reader_finds_ranks_that_appear_later_and_reports_problems_once(tmp_path):
    run = create_run(tmp_path, "late", {})
    reader = RunReader(run)
    assert reader.poll().metrics == {}
    with MetricsWriter(run, 3) as w:
        w.write(0, loss=2.0)
    with open(run.metrics_path(3), "ab") as f:
        f.write(b"garbage\n")
    update = reader.poll()
    assert [r["loss"] for r in update.metrics[3]] == [2.0]
    assert len(update.problems) == 1
    assert reader.poll().problems == []


def test_status_follows_the_last_lifecycle_event():
    assert status_from_events([]) == "unknown"
    assert status_from_events([{"kind": "created"}]) == "created"
    assert status_from_events([{"kind": "created"}, {"kind": "started"}]) == "running"
    assert status_from_events([{"kind": "started"}, {"kind": "failed", "rank": 1}]) == "failed"
    # A resumed run is running again after it was stopped.
    assert status_from_events([{"kind": "stopped"}, {"kind": "started"}]) == "running"


def test_missing_config_is_a_clear_error_and_listing_survives_it(tmp_path):
    run = create_run(tmp_path, "broken", {"model": "gpt"})
    good = create_run(tmp_path, "good", {"model": "vae", "strategy": "ddp", "nproc": 2,
                                         "nnodes": 1})
    with MetricsWriter(good, 0) as w:
        w.write(5, loss=0.25)
    os.remove(run.config_path)
    with pytest.raises(RunDirError, match="no config.toml"):
        open_run(run.path)
    summaries = {s.name: s for s in list_runs(tmp_path)}
    assert "config.toml" in summaries["broken"].problem
    assert summaries["good"].model == "vae"
    assert summaries["good"].world_size == 2
    assert summaries["good"].last_loss == 0.25 and summaries["good"].last_step == 5


def test_malformed_config_names_the_file(tmp_path):
    run = create_run(tmp_path, "bad-toml", {"lr": 1.0})
    run.config_path.write_text("lr = = 3\n")
    with pytest.raises(RunDirError, match="not valid TOML"):
        read_config(run)
    assert summarize_run(run).problem is not None


def test_unusable_runs_folder_says_how_to_fix_it(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(RunDirError, match="--runs-dir"):
        ensure_runs_dir(not_a_dir)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(RunDirError, match="not writable"):
            ensure_runs_dir(locked)
    assert ensure_runs_dir(tmp_path / "new" / "runs").is_dir()
