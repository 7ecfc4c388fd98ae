"""Checkpoints: exact resume, graceful stop, keep-K, and refusing files that are not what they claim."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

from backends import checkpoint as ckpt
from backends.progress import Cancelled
from backends.runs import RunDir, create_run, read_events
from backends.train.config import TrainConfig
from backends.train.loop import run_training
from backends.train.process import STOP_FILE


def tiny(**values) -> TrainConfig:
    base = {
        "model": "gpt", "steps": 6, "batch_size": 4, "lr": 1e-2, "decay_steps": 20, "seed": 5,
        "model_config": {"block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 16, "dropout": 0.1},
        "data": {"dataset": "excerpt", "limit": 200},
    }
    return TrainConfig.from_dict({**base, **values})


def losses(run: RunDir) -> dict[int, float]:
    lines = run.metrics_path(0).read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if r["kind"] == "train"}


def train(tmp_path, name: str, config: TrainConfig, progress=None) -> RunDir:
    run = create_run(tmp_path, name, config.to_dict())
    run_training(run, config, progress)
    return run


def test_a_resumed_run_continues_exactly_as_an_uninterrupted_one(tmp_path):
    # Dropout is on: the resumed run must also restore the random number generator.
    whole = train(tmp_path, "whole", tiny())

    def stop_at_3(fraction: float) -> None:
        if fraction >= 3 / 6:
            raise Cancelled

    part = train(tmp_path, "part", tiny(), progress=stop_at_3)
    stopped = read_events(part)[-1]
    assert stopped["kind"] == "stopped" and stopped["step"] == 3
    resumed = train(tmp_path, "resumed", tiny(resume=str(part.path)))
    assert read_events(resumed)[-1]["kind"] == "finished"
    assert losses(resumed) == {s: v for s, v in losses(whole).items() if s > 3}  # bit for bit
    a = ckpt.load_model(whole.path).model.state_dict()
    b = ckpt.load_model(resumed.path).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_stop_file_ends_the_run_after_one_step_with_a_checkpoint(tmp_path):
    run = create_run(tmp_path, "r", tiny().to_dict())
    (run.path / STOP_FILE).write_text("")
    result = run_training(run, tiny())
    assert (result.status, result.step) == ("stopped", 1)
    assert read_events(run)[-1] == {**read_events(run)[-1], "kind": "stopped", "step": 1}
    assert [p.name for p in ckpt.list_checkpoints(run.path)] == ["step_0000001"]


def test_only_the_last_k_checkpoints_are_kept_and_none_half_written(tmp_path):
    run = train(tmp_path, "r", tiny(checkpoint_every=1, keep_checkpoints=2))
    names = sorted(p.name for p in run.checkpoints_dir.iterdir())
    assert names == ["step_0000005", "step_0000006"]
    folder = ckpt.resolve_checkpoint(run.path)
    assert folder.name == "step_0000006"
    meta = ckpt.read_meta(folder)
    assert meta["model"] == "gpt" and meta["step"] == 6 and meta["tokenizer"]
    loaded = ckpt.load_model(run.path)
    assert loaded.kind == "gpt" and not loaded.model.training
    assert loaded.config.vocab_size == meta["model_config"]["vocab_size"]


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_posing_as_a_checkpoint_is_refused_unexecuted(tmp_path):
    good = train(tmp_path, "good", tiny(steps=1))
    folder = ckpt.resolve_checkpoint(good.path)
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = marker
    torch.save({"step": 1, "x": payload}, folder / ckpt.TRAIN_STATE_FILE)  # a real archive
    with pytest.raises(ckpt.CheckpointError, match="refused unread"):
        ckpt.load_train_state(folder)
    run = create_run(tmp_path, "victim", tiny(resume=str(good.path)).to_dict())
    with pytest.raises(ckpt.CheckpointError, match="refused unread"):
        run_training(run, tiny(resume=str(good.path)))
    assert not marker.exists()
    assert read_events(run)[-1]["kind"] == "error"  # the user sees why in the run's events


def test_malicious_sharded_metadata_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = marker
    folder = tmp_path / "step_0000001"
    (folder / "dcp").mkdir(parents=True)
    (folder / "dcp" / ".metadata").write_bytes(pickle.dumps(payload))
    (folder / "meta.json").write_text(json.dumps({"model": "gpt", "model_config": tiny().model_config
                                                  | {"vocab_size": 10}}))
    with pytest.raises(ckpt.CheckpointError, match="refused"):
        ckpt.load_model(folder)
    assert not marker.exists()


def test_corrupt_or_mismatched_checkpoints_get_a_clear_message(tmp_path):
    good = train(tmp_path, "good", tiny(steps=1))
    folder = ckpt.resolve_checkpoint(good.path)
    bigger = tiny(model_config={**tiny().model_config, "n_layer": 2}, resume=str(good.path))
    run = create_run(tmp_path, "bigger", bigger.to_dict())
    with pytest.raises(ckpt.CheckpointError, match=r"different model_config \(n_layer: 1 vs 2\)"):
        run_training(run, bigger)
    (folder / ckpt.MODEL_FILE).write_bytes(b"not safetensors at all")
    with pytest.raises(ckpt.CheckpointError, match="damaged"):
        ckpt.load_model(folder)
    with pytest.raises(ckpt.CheckpointError, match="holds no checkpoint"):
        ckpt.load_model(tmp_path)


def test_a_gan_checkpoint_loads_as_generator_and_discriminator(tmp_path):
    config = TrainConfig.from_dict({
        "model": "dcgan", "steps": 2, "batch_size": 8, "lr": 2e-4, "beta1": 0.5,
        "model_config": {"nz": 4, "ngf": 4, "ndf": 4}, "data": {"dataset": "digits", "limit": 64},
        "sample_every": 2,
    })
    run = train(tmp_path, "gan", config)
    loaded = ckpt.load_model(run.path)
    images = loaded.model.generator(torch.zeros(2, 4))
    assert images.shape == (2, 1, 8, 8) and hasattr(loaded.model, "discriminator")
    assert (run.samples_dir / "step_0000002.png").is_file()


def test_the_command_line_refuses_a_corrupt_or_mismatched_resume_before_launching(tmp_path, capsys):
    from workbench.cli import main

    good = train(tmp_path, "good", tiny(steps=1))
    runs = tmp_path / "runs"
    args = ["--runs-dir", str(runs), "train", "gpt-tiny", "--set", f"resume={json.dumps(str(good.path))}"]
    assert main(args) == 2  # gpt-tiny's model differs from this small one
    assert "different model_config" in capsys.readouterr().err
    folder = ckpt.resolve_checkpoint(good.path)
    (folder / ckpt.TRAIN_STATE_FILE).write_bytes(b"garbage")
    config_file = tmp_path / "tiny.toml"
    import tomli_w

    config_file.write_text(tomli_w.dumps(tiny(resume=str(good.path)).to_dict()))
    assert main(["--runs-dir", str(runs), "train", str(config_file)]) == 2
    assert "damaged or not a checkpoint" in capsys.readouterr().err
    assert not runs.exists() or list(runs.iterdir()) == []
