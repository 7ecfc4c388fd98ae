"""The launcher's state: Launch only for a config just checked valid, and only once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from backends.launch.preview import LaunchPreview
from panels.training.state import TrainingState


def test_launch_waits_for_a_valid_check_and_a_launch_in_flight():
    state = TrainingState()
    assert not state.can_launch and state.gpu_count == 0
    valid = replace(state, preview=LaunchPreview({"name": "a"}, commands=["torchrun a"]))
    assert valid.can_launch
    assert not replace(valid, checking=True).can_launch
    assert not replace(valid, launching=True).can_launch
    assert not replace(valid, preview=LaunchPreview(None, "lr must be positive", "lr")).can_launch


def test_the_run_label_and_gpu_count_follow_the_state():
    state = TrainingState(current_run=Path("/runs/gpt-tiny"), gpu_names=["H100", "H100"])
    assert state.run_label == "Run: gpt-tiny" and state.gpu_count == 2
    assert TrainingState().run_label == "No run selected"
