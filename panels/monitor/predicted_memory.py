"""The planner's per-rank memory for a watched run, as reference lines on its memory plots.

When a run is shown, :class:`MemoryPredictor` plans its ``config.toml`` with
``backends.plan`` on its own task slot and keeps the bytes by part. Each
memory field is compared with the part that measures the same thing:

- ``param_bytes``, ``grad_bytes``, ``optim_bytes``, ``tensor_bytes``: the
  rank's parameters, gradients, optimizer state and their sum (local shards);
- the CUDA allocator's ``allocated``, ``peak_allocated``, ``active_peak`` and
  the reserved fields: the predicted peak of a step (every part, activations
  and transient buffers included);
- ``rss`` gets no line: a process holds the Python and torch runtime besides
  its tensors, which no model plan predicts.

The data decide some model sizes (a GPT's vocabulary); a run records its
real parameter count when it starts, and the prediction is made again from
that, so the lines match the model that actually trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.tasks import TaskRunner

# Memory field -> the plan's part measuring the same bytes.
FIELD_PARTS = {
    "param_bytes": "params",
    "grad_bytes": "grads",
    "optim_bytes": "optimizer",
    "tensor_bytes": "model_state",
    "allocated": "total",
    "peak_allocated": "total",
    "active_peak": "total",
    "reserved": "total",
    "peak_reserved": "total",
}


@dataclass(frozen=True)
class Prediction:
    """Planned bytes per rank by part for one run (or why there is none)."""

    parts: dict[str, int] = field(default_factory=dict)
    parameters: int | None = None  # the real count the plan was matched to, if known
    error: str = ""

    def for_field(self, name: str) -> tuple[float | None, str]:
        """(bytes, label) of the line for memory field ``name``; (None, "") when none fits."""
        part = FIELD_PARTS.get(name)
        if part is None or part not in self.parts:
            return None, ""
        return float(self.parts[part]), "predicted peak" if part == "total" else "predicted"


def predict_run_memory(config: dict[str, Any], parameters: int | None = None) -> Prediction:
    """Plan a run's config (runs on a worker). ``parameters``: the run's real count, if known."""
    from backends.plan import PlanError, plan_from_train_config

    config = dict(config)
    try:
        if parameters:
            config = _with_data_sizes(config, int(parameters))
        plan = plan_from_train_config(config)
    except (PlanError, ValueError, TypeError, KeyError) as exc:
        return Prediction(error=str(exc), parameters=parameters)
    parts = dict(plan.memory.as_dict())
    parts["model_state"] = plan.memory.model_state
    return Prediction(parts, parameters)


def _with_data_sizes(config: dict[str, Any], parameters: int) -> dict[str, Any]:
    """Set a GPT's vocabulary from the real parameter count (the count is linear in it)."""
    from backends.plan import layout_from_train_config

    model = config.get("model", "gpt")
    model_config = dict(config.get("model_config") or {})
    if model != "gpt" or "vocab_size" in model_config:
        return config
    base, _ = layout_from_train_config({**config, "model_config": {**model_config,
                                                                    "vocab_size": 256}})
    more, _ = layout_from_train_config({**config, "model_config": {**model_config,
                                                                    "vocab_size": 257}})
    per_token = more.params - base.params
    extra = parameters - base.params
    if per_token <= 0 or extra % per_token or 256 + extra // per_token < 1:
        return config  # not a count this layout can give: keep the assumption
    model_config["vocab_size"] = 256 + extra // per_token
    return {**config, "model_config": model_config}


def started_parameters(events: list[dict[str, Any]]) -> int | None:
    """The parameter count a run's ``started`` event recorded (the newest), if any."""
    for event in reversed(events):
        if event.get("kind") in ("started", "resumed") and isinstance(
                event.get("parameters"), int):
            return int(event["parameters"])
    return None


class MemoryPredictor(QObject):
    """Plans shown runs on a worker, one at a time, and keeps the results by run folder.

    Signals
    -------
    sig_predicted(object)   a run's (Path) prediction arrived
    """

    sig_predicted = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._done: dict[Path, Prediction] = {}
        self._asked: dict[Path, int | None] = {}  # what each run was (or is being) planned with
        self._queue: list[tuple[Path, dict[str, Any], int | None]] = []
        self._kick = QTimer(self, singleShot=True, interval=0)
        self._kick.timeout.connect(self._next)

    def ensure(self, path: Path, config: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """Plan ``path`` unless it was planned with what is known now (its real size)."""
        path = Path(path)
        if not config:
            return
        parameters = started_parameters(events)
        if path in self._asked and self._asked[path] == parameters:
            return
        self._asked[path] = parameters
        self._queue = [q for q in self._queue if q[0] != path]
        self._queue.append((path, dict(config), parameters))
        self._next()

    def _next(self) -> None:
        if self._runner.is_busy() or not self._queue:
            return
        path, config, parameters = self._queue.pop(0)
        self._runner.submit(
            predict_run_memory, config, parameters,
            on_done=lambda prediction: self._arrived(path, prediction),
            on_error=lambda exc, _d: self._arrived(path, Prediction(error=str(exc))),
        )

    def _arrived(self, path: Path, prediction: Prediction) -> None:
        self._done[path] = prediction
        self.sig_predicted.emit(path)
        # Not from inside the runner's on_done: the runner starts its next request after it.
        self._kick.start()

    def get(self, path: Path) -> Prediction | None:
        return self._done.get(Path(path))

    def forget(self, path: Path) -> None:
        path = Path(path)
        self._done.pop(path, None)
        self._asked.pop(path, None)
        self._queue = [q for q in self._queue if q[0] != path]

    def is_busy(self) -> bool:
        return self._runner.is_busy() or bool(self._queue)
