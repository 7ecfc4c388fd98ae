"""The launch preview (what Launch would run, checked first) and the shared unknown-field check."""

from __future__ import annotations

import dataclasses

import pytest

from backends import launch
from backends.fields import field_names, unknown_fields
from backends.launch import state as state_module
from backends.plan.errors import PlanError
from backends.plan.setup import TrainSetup
from backends.runs import create_run, record_event

GPT = {"model": "gpt", "model_config": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16}}


def test_a_valid_config_previews_its_command_and_lr_curve(tmp_path):
    preview = launch.preview_train({**GPT, "name": "tiny", "steps": 50}, tmp_path, 0)
    assert preview.valid and preview.error == ""
    assert len(preview.commands) == 1 and preview.command_text == preview.commands[0]
    assert f"--run-dir {tmp_path / 'tiny'}" in preview.command_text
    assert preview.lr_steps[0] == 0 and len(preview.lr_steps) == len(preview.lr_values) == 50
    assert not (tmp_path / "tiny").exists()  # a preview creates nothing


def test_a_taken_or_empty_name_is_refused_on_the_name(tmp_path):
    (tmp_path / "taken").mkdir()
    taken = launch.preview_train({"name": "taken", "model": "gpt"}, tmp_path, 0)
    assert not taken.valid and taken.error_key == "name" and "already exists" in taken.error
    assert taken.command_text == ""
    empty = launch.preview_train({"name": " ", "model": "gpt"}, tmp_path, 0)
    assert empty.error_key == "name" and "empty" in empty.error
    assert launch.name_taken(tmp_path, "free") is None


def test_a_bad_value_leaves_the_field_to_the_caller(tmp_path):
    preview = launch.preview_train({**GPT, "name": "x", "lr": -1.0}, tmp_path, 0)
    assert not preview.valid and "lr" in preview.error and preview.error_key is None


def test_a_script_preview_names_its_run_after_the_script(tmp_path):
    script = tmp_path / "train_me.py"
    script.write_text("print('hi')\n")
    runs = tmp_path / "runs"
    preview = launch.preview_script({"source": "script", "script": str(script)}, runs)
    assert preview.valid and preview.config is not None and preview.config["name"] == "train_me"
    assert "train_me.py" in preview.command_text and preview.lr_steps == []
    missing = launch.preview_script({"source": "script", "script": str(tmp_path / "no.py")}, runs)
    assert not missing.valid and missing.error.startswith("script")


def test_config_from_dict_tells_a_script_from_the_trainer():
    assert isinstance(launch.config_from_dict({"source": "script", "script": "a.py"}),
                      launch.ScriptConfig)
    assert type(launch.config_from_dict({"model": "gpt"})).__name__ == "TrainConfig"


def test_unknown_fields_are_sorted_and_every_config_refuses_them():
    @dataclasses.dataclass
    class Pair:
        a: int = 0
        b: int = 0

    assert field_names(Pair) == {"a", "b"}
    assert unknown_fields(Pair, {"a": 1, "z": 2, "c": 3}) == ["c", "z"]
    assert unknown_fields(Pair, {"b": 1}) == []
    with pytest.raises(launch.LaunchError, match="unknown key 'bogus'"):
        launch.ScriptConfig.from_dict({"bogus": 1})
    with pytest.raises(PlanError, match="unknown setup field"):
        TrainSetup.from_dict({"bogus": 1})


def test_run_state_reads_the_live_pids_once(tmp_path, monkeypatch):
    run = create_run(tmp_path, "quiet", {"model": "gpt"})
    record_event(run, "started", step=0)
    calls = []
    real = state_module.live_pids
    monkeypatch.setattr(state_module, "live_pids", lambda r: calls.append(r) or real(r))
    assert launch.run_state(run).status == "lost"
    assert len(calls) == 1
