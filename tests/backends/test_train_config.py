"""Training config: presets load, overrides parse, and every bad value is refused with the fix."""

from __future__ import annotations

import pytest

from backends.data.errors import DataError
from backends.train.config import TrainConfig, TrainConfigError, parse_assignment, validate
from backends.train.data import GlobalBatches, check_data
from resources import resource_path

PRESETS = ("gpt-tiny", "dcgan-tiny", "vae-tiny", "classifier-tiny")


def gpt(**values) -> TrainConfig:
    base = {"model": "gpt", "model_config": {"block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32}}
    return TrainConfig.from_dict({**base, **values})


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_validates(name):
    config = TrainConfig.from_toml(str(resource_path("presets", f"{name}.toml")))
    validate(config, cuda_devices=0)
    assert config.name == name and config.model == name.split("-")[0]


def test_overrides_are_typed_and_may_be_nested():
    config = gpt().with_overrides(
        ["strategy=fsdp", "nproc=2", "lr=1e-3", "model_config.n_layer=3", "data.path=/x/y z.txt"]
    )
    assert (config.strategy, config.nproc, config.lr) == ("fsdp", 2, 0.001)
    assert config.model_config["n_layer"] == 3 and config.data.path == "/x/y z.txt"
    assert TrainConfig.from_dict(config.to_dict()) == config  # the TOML round trip keeps it
    assert parse_assignment("full_weights=false") == ("full_weights", False)
    with pytest.raises(TrainConfigError, match="key=value"):
        parse_assignment("steps")
    with pytest.raises(TrainConfigError, match="unknown config key.*stepz"):
        gpt().with_overrides(["stepz=3"])
    with pytest.raises(TrainConfigError, match="steps must be an integer"):
        gpt().with_overrides(["steps=many"])


@pytest.mark.parametrize(
    ("values", "cuda", "message"),
    [
        ({"strategy": "zero3"}, 0, "strategy 'zero3' is unknown: choose one of single, ddp"),
        ({"strategy": "single", "nproc": 2}, 0, "set nproc=1 or choose ddp"),
        ({"strategy": "tp", "nproc": 3}, 0, r"must divide model_config.n_head \(4\).*1, 2, 4"),
        ({"strategy": "fsdp_tp", "nproc": 4}, 0, "tp=0: set tp to one of 2"),
        ({"strategy": "fsdp_tp", "nproc": 2, "tp": 2}, 0, "at least 4 processes"),
        ({"strategy": "ddp", "nproc": 2, "tp": 2}, 0, "only read by strategy fsdp_tp"),
        ({"strategy": "ddp", "nproc": 4, "device": "cuda"}, 2, "nproc=4 but this machine has 2 CUDA"),
        ({"device": "cuda"}, 0, "no CUDA device is visible"),
        ({"precision": "fp16"}, 0, "fp16 needs a CUDA device: on CPU use bf16"),
        ({"precision": "fp16", "strategy": "fsdp", "nproc": 2, "device": "cuda"}, 2, "use bf16"),
        ({"strategy": "ddp", "nproc": 3, "batch_size": 8}, 0, "batch_size=6 or 9"),
        ({"nnodes": 2, "strategy": "ddp"}, 0, "rdzv_endpoint=host:port"),
        ({"lr": -1.0}, 0, "lr must be a positive number"),
        ({"resume": "/nonexistent/run"}, 0, "resume: /nonexistent/run does not exist"),
        ({"model_config": {"block_size": 16, "n_layer": 2, "n_head": 3, "n_embd": 32}}, 0,
         "model_config: .*n_embd \\(32\\) must be divisible by n_head"),
    ],
)
def test_bad_values_name_the_field_and_the_fix(values, cuda, message):
    with pytest.raises(TrainConfigError, match=message):
        validate(gpt(**values), cuda_devices=cuda)


def test_tensor_parallel_is_refused_for_models_without_transformer_blocks():
    config = TrainConfig.from_dict({"model": "vae", "strategy": "tp", "nproc": 2})
    with pytest.raises(TrainConfigError, match="for vae choose single, ddp or fsdp"):
        validate(config, cuda_devices=0)


def test_a_missing_dataset_path_is_reported_before_launch(tmp_path):
    config = gpt(data={"dataset": "file", "path": str(tmp_path / "missing.txt")})
    with pytest.raises(DataError, match="missing.txt does not exist"):
        check_data(config)


def test_a_model_config_value_that_contradicts_the_data_is_refused():
    config = TrainConfig.from_dict({"model": "vae", "model_config": {"image_size": 28},
                                    "data": {"dataset": "digits"}})
    with pytest.raises(TrainConfigError, match="image_size=28 but the data .* has 8"):
        check_data(config)


def test_global_batches_do_not_depend_on_the_number_of_ranks():
    batches = GlobalBatches(n_items=50, batch_size=8, seed=1)
    whole = batches.indices(9)  # crosses an epoch boundary (72 > 50)
    shares = [batches.micro_batches(9, r, 4, accum=2) for r in range(4)]
    assert [int(i) for share in shares for micro in share for i in micro] == whole.tolist()
    epoch = [int(i) for s in range(7) for i in batches.indices(s)][:50]
    assert sorted(epoch) == list(range(50))  # each epoch visits every example once


def test_the_command_line_refuses_bad_input_in_one_line_before_launching(tmp_path, capsys):
    from workbench.cli import main

    status = main(["--runs-dir", str(tmp_path), "train", "gpt-tiny", "--set", "strategy=tp",
                   "--set", "nproc=3"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "must divide model_config.n_head" in err
    assert main(["--runs-dir", str(tmp_path), "train", "no-such-preset"]) == 2
    assert "choose one of classifier-tiny, dcgan-tiny, gpt-tiny, vae-tiny" in capsys.readouterr().err
    assert main(["--runs-dir", str(tmp_path), "train", "gpt-tiny", "--set", "data.val_fraction=x"]) == 2
    assert "data.val_fraction must be a number" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing was created, nothing launched


def test_the_command_line_prints_the_commands_it_would_run(tmp_path, capsys):
    from workbench.cli import main

    assert main(["--runs-dir", str(tmp_path), "train", "gpt-tiny", "--set", "strategy=ddp",
                 "--set", "nproc=2", "--print-command", "torchrun"]) == 0
    line = capsys.readouterr().out.strip()
    assert "OMP_NUM_THREADS=1 " in line and "--nproc-per-node 2" in line
    # The run folder the command names is prepared: config written, status created.
    assert (tmp_path / "gpt-tiny" / "config.toml").is_file() and str(tmp_path / "gpt-tiny") in line
    assert main(["--runs-dir", str(tmp_path), "train", "gpt-tiny", "--set", "strategy=ddp",
                 "--set", "nnodes=2", "--set", "rdzv_endpoint=n0:29500", "--print-command", "nodes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("# node")] == ["# node 0", "# node 1"]
    assert len([ln for ln in lines if "torch.distributed.run" in ln]) == 2
