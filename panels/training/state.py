"""The Training panel's state: what the launcher shows, in one typed object the panel renders.

The widgets never hold the truth: each change (a check of the form came back,
a run was selected, a launch started or failed, the GPUs were found) updates
:class:`TrainingState` and the panel renders it (which buttons are enabled,
which run is named, the command shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backends.launch.preview import LaunchPreview


@dataclass
class TrainingState:
    """The launcher's state; see the module docstring."""

    preview: LaunchPreview | None = None  # the newest check of the form (config, commands)
    checking: bool = False  # an edit is waiting for its check
    launching: bool = False  # Launch was pressed and its answer has not come back
    script_mode: bool = False  # the "Your script" form instead of the built-in config
    current_run: Path | None = None  # the run Stop, Kill and Resume act on
    gpu_names: list[str] | None = None  # None until the devices are detected

    @property
    def config_valid(self) -> bool:
        """Whether the newest check found the config valid."""
        return self.preview is not None and self.preview.valid

    @property
    def can_launch(self) -> bool:
        """Launch only the config just checked, and only once."""
        return self.config_valid and not self.checking and not self.launching

    @property
    def gpu_count(self) -> int:
        return len(self.gpu_names or ())

    @property
    def run_label(self) -> str:
        return f"Run: {self.current_run.name}" if self.current_run is not None else "No run selected"
