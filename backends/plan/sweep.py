"""A size sweep: one training config at several widths or depths, launched as one run per size.

A scaling-law fit needs finished runs of several sizes that differ in
nothing else. :func:`sweep_configs` makes them from one config (a preset or
the launcher's form): the same config with ``model_config[key]`` set to each
value and the run named ``<name>-<key><value>`` (``gpt-tiny-n_embd64``).
:func:`check_sweep` validates every config with the trainer's own validator
before anything starts, naming the run and the field on error, and
:func:`launch_sweep` starts them one after another (the default: on a
machine with few cores, runs side by side only slow each other down) or
all at once.

Cancelling :func:`launch_sweep` (its ``progress`` callback raises
:class:`~backends.progress.Cancelled`) launches no further run; a run already
started keeps training and can be stopped like any other.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from backends.plan.errors import PlanError
from backends.progress import ProgressCallback, report

# Model-config keys worth sweeping per model (widths and depths); any other
# integer key of the model config works too.
SWEEP_KEYS: dict[str, tuple[str, ...]] = {
    "gpt": ("n_embd", "n_layer", "n_head"),
    "dcgan": ("ngf", "ndf", "nz"),
    "vae": ("hidden", "latent_dim"),
    "classifier": (),
}
MAX_RUNS = 16
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def sweep_keys(config: Mapping[str, Any]) -> list[str]:
    """Keys a sweep over ``config`` can vary: the model's known sizes, then its other integers."""
    model = config.get("model", "gpt")
    known = list(SWEEP_KEYS.get(str(model), ()))
    model_config = config.get("model_config") or {}
    extra = sorted(
        k for k, v in model_config.items()
        if isinstance(v, int) and not isinstance(v, bool) and k not in known
    )
    return known + extra


def parse_values(text: str) -> list[int]:
    """``"32, 64 128"`` -> ``[32, 64, 128]``: whole numbers above 0, each once, in order given."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts:
        raise PlanError("sweep values are empty: give two or more sizes, e.g. 32, 64, 128")
    values: list[int] = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise PlanError(f"sweep value {part!r} is not a whole number: write sizes such as "
                            "32, 64, 128") from None
        if value <= 0:
            raise PlanError(f"sweep value {value} must be above 0")
        if value in values:
            raise PlanError(f"sweep value {value} is given twice: list each size once")
        values.append(value)
    if len(values) < 2:
        raise PlanError("a sweep needs at least two sizes (one run is a plain launch)")
    if len(values) > MAX_RUNS:
        raise PlanError(f"{len(values)} sizes is more than {MAX_RUNS}: sweep fewer at once")
    return values


def sweep_name(name: str, key: str, value: int) -> str:
    """The run name of one size: ``<name>-<key><value>``."""
    return f"{name}-{key}{value}"


def sweep_configs(config: Mapping[str, Any], key: str, values: Sequence[int]) -> list[dict[str, Any]]:
    """One config per value: ``config`` with ``model_config[key] = value`` and its own name."""
    key = key.strip()
    if not _KEY.match(key):
        raise PlanError(f"sweep key {key!r} is not a model_config key: choose one such as "
                        "n_embd or n_layer")
    model_config = config.get("model_config") or {}
    current = model_config.get(key)
    if current is not None and (isinstance(current, bool) or not isinstance(current, int)):
        raise PlanError(f"model_config.{key} is {current!r}, not a whole number: sweep a size "
                        "such as n_embd or n_layer")
    name = str(config.get("name") or config.get("model") or "run").strip()
    out = []
    for value in values:
        one = copy.deepcopy(dict(config))
        one["model_config"] = {**dict(model_config), key: int(value)}
        one["name"] = sweep_name(name, key, int(value))
        one.pop("resume", None)  # every size starts from scratch
        out.append(one)
    return out


def check_sweep(configs: Sequence[Mapping[str, Any]], runs_dir: str | Path,
                cuda_devices: int | None = None) -> None:
    """Raise :class:`PlanError` for the first config that cannot run (named by its run name)."""
    from backends.train.config import TrainConfig, TrainConfigError, validate

    runs = Path(runs_dir)
    for config in configs:
        name = str(config.get("name", ""))
        if (runs / name).exists():
            raise PlanError(f"a run named {name!r} already exists in {runs}: change the run "
                            "name (the sweep adds -<key><value> to it)")
        try:
            validate(TrainConfig.from_dict(config), cuda_devices=cuda_devices)
        except TrainConfigError as exc:
            raise PlanError(f"{name}: {exc}") from exc


def launch_sweep(
    configs: Sequence[Mapping[str, Any]],
    runs_dir: str | Path,
    *,
    at_once: bool = False,
    cuda_devices: int | None = None,
    on_launched: Callable[[Path], None] | None = None,
    poll: float = 0.5,
    progress: ProgressCallback | None = None,
) -> list[tuple[Path, str]]:
    """Launch every config as a run; returns ``(run folder, status)`` per run.

    One after another unless ``at_once``: each run starts when the previous
    one has ended (finished, failed or stopped: the sweep goes on either
    way). ``on_launched`` hears of each run as it starts. Progress is the
    share of runs that have ended (at once: launched).
    """
    from backends import launch
    from backends.runs import create_run, read_events, status_from_events
    from backends.train.config import TrainConfig

    check_sweep(configs, runs_dir, cuda_devices)
    total = len(configs)
    report(progress, 0.0)
    results: list[tuple[Path, str]] = []
    for index, config in enumerate(configs):
        train_config = TrainConfig.from_dict(config)
        run = create_run(runs_dir, train_config.name, config)
        info = launch.start(run, train_config)
        if on_launched is not None:
            on_launched(run.path)
        if at_once:
            results.append((run.path, "running"))
            report(progress, (index + 1) / total)
            continue
        process = info.process  # start() always returns the launcher's process
        while process is not None and process.poll() is None:
            # The progress call is where a cancel arrives: the run goes on, the sweep stops.
            report(progress, index / total)
            time.sleep(poll)
        results.append((run.path, status_from_events(read_events(run))))
        report(progress, (index + 1) / total)
    return results
