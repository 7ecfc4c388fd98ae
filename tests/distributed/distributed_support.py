"""Shared helpers for the multi-process tests: a tiny GPT config, launching, waiting, reading results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from backends import launch
from backends.runs import RunDir, create_run, read_events, status_from_events
from backends.train.config import TrainConfig

# Generous: on 2 busy cores, 4 processes importing torch take a while to start.
RUN_TIMEOUT = 240.0


def tiny_gpt(**overrides: Any) -> TrainConfig:
    """A GPT small enough that a few steps take milliseconds; fp32, no dropout: deterministic."""
    values: dict[str, Any] = {
        "name": "tiny",
        "model": "gpt",
        "steps": 4,
        "batch_size": 8,
        "lr": 1e-2,
        "warmup_steps": 1,
        "grad_clip": 0.5,  # small enough to clip: the sharded norm is exercised
        "seed": 3,
        "log_every": 1,
        "checkpoint_every": 0,
        "model_config": {"block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32},
        "data": {"dataset": "excerpt", "val_fraction": 0.1, "limit": 512},
    }
    values.update(overrides)
    return TrainConfig.from_dict(values)


def start(runs_dir: Path, config: TrainConfig) -> launch.LaunchInfo:
    run = create_run(runs_dir, config.name, config.to_dict())
    return launch.start(run, config)


def finish(info: launch.LaunchInfo, timeout: float = RUN_TIMEOUT) -> str:
    status = launch.wait(info, timeout=timeout)
    if info.process is not None and info.process.poll() is None:
        launch.kill(info.run)
        raise AssertionError(f"run {info.run.path} did not end within {timeout} s")
    return status


def wait_for_step(run: RunDir, step: int, ranks: tuple[int, ...] = (0,), timeout: float = RUN_TIMEOUT) -> None:
    """Block until every rank in ``ranks`` has logged a train record at ``step`` or later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(max(rank_losses(run, r), default=0) >= step for r in ranks):
            return
        if status_from_events(read_events(run)) in ("finished", "failed", "stopped"):
            raise AssertionError(f"run ended before step {step}: {read_events(run)[-1]}")
        time.sleep(0.1)
    raise AssertionError(f"no step {step} from ranks {ranks} within {timeout} s")


def rank_losses(run: RunDir, rank: int = 0) -> dict[int, float]:
    from backends.runs import JsonlTail

    return {
        r["step"]: r["loss"]
        for r in JsonlTail(run.metrics_path(rank)).read_new()
        if r.get("kind") == "train"
    }


def final_weights(run: RunDir) -> dict[str, torch.Tensor]:
    from backends.checkpoint import load_model

    return load_model(run.path).model.state_dict()


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float = 2e-5) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=1e-4, msg=lambda m, k=key: f"{k}: {m}")
