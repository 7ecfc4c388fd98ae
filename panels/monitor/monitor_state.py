"""What the Monitor panel knows and renders: the watched runs, the shown ones, display options.

:class:`WatchedRun` is one watched run folder (its growing metric series, its
lifecycle events, config and failure); :class:`MonitorState` is the panel's
whole state, which the panel's parts read and the data path
(``panels.monitor.run_feed``) fills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.monitor_data import FailureReport, RunMetrics
from panels.monitor.plot_curve import DisplayOptions


def config_text(value: Any) -> str | None:
    """A config entry as text: a table's ``name`` (``model = {name = ...}``) or the value."""
    if isinstance(value, dict):
        value = value.get("name")
    return None if value is None else str(value)


@dataclass
class WatchedRun:
    """What the panel knows about one watched run."""

    path: Path
    metrics: RunMetrics = field(default_factory=RunMetrics)
    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "unknown"
    config: dict[str, Any] = field(default_factory=dict)
    failure: FailureReport | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def total_steps(self) -> int:
        steps = self.config.get("steps")
        if isinstance(steps, int) and steps > 0:
            return steps
        # A user's script says how many steps it will take when it starts (client.init(steps=)).
        started = [e.get("steps") for e in self.events if e.get("kind") == "started"]
        return started[-1] if started and isinstance(started[-1], int) else 0

    @property
    def model_label(self) -> str:
        """The model, or for a user's script its file or module name."""
        script, module = self.config.get("script"), self.config.get("module")
        return (config_text(self.config.get("model")) or (Path(script).name if script else None)
                or module or "?")

    @property
    def world_label(self) -> str:
        """Processes per node times nodes, or ``?`` when the config does not say."""
        nproc, nnodes = self.config.get("nproc", 1), self.config.get("nnodes", 1)
        if isinstance(nproc, int) and isinstance(nnodes, int):
            return str(nproc * nnodes)
        return "?"


@dataclass
class MonitorState:
    """The panel's state: every watched run, the shown ones (first = current), the options."""

    runs: dict[Path, WatchedRun] = field(default_factory=dict)
    shown: list[Path] = field(default_factory=list)
    options: DisplayOptions = field(default_factory=DisplayOptions)
    # The finished runs of the last listing (path, last step): the Scaling tab refits on change.
    finished_key: tuple[tuple[Path, int | None], ...] = ()
    closed: bool = False

    def current(self) -> WatchedRun | None:
        """The first shown run (the one the header and samples are about)."""
        return self.runs.get(self.shown[0]) if self.shown else None

    def shown_metrics(self) -> list[tuple[str, RunMetrics]]:
        """(name, metrics) of each shown run that is watched, in the shown order."""
        return [(self.runs[p].name, self.runs[p].metrics) for p in self.shown if p in self.runs]
