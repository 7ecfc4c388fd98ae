"""``workbench plan``: the JSON a script reads, the table a person reads, one-line errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from workbench.commands import CommandError
from workbench.commands import plan as plan_verb


def main(argv: list[str]) -> int:
    """``workbench plan ...`` as the command line runs it (parser, CommandError -> exit 2),
    built from this verb alone so other verbs cannot disturb these tests."""
    assert argv[0] == "plan"
    parser = argparse.ArgumentParser(prog="workbench plan")
    plan_verb.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    args.runs_dir = Path("runs")
    try:
        return plan_verb.run(args)
    except CommandError as exc:
        print(f"workbench plan: error: {exc}", file=sys.stderr)
        return 2

SHAPE = ["--layers", "12", "--d-model", "768", "--heads", "12", "--vocab", "50257",
         "--seq-len", "1024"]


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_for_a_gpt_shape(capsys):
    out = _json(capsys, ["plan", *SHAPE, "--strategy", "fsdp", "--world-size", "8",
                         "--batch-size", "4", "--precision", "bf16", "--json"])
    assert out["params"] == 124_439_808
    assert out["weights_bytes"] == {"fp32": 4 * 124_439_808, "bf16": 2 * 124_439_808,
                                    "fp16": 2 * 124_439_808}
    parts = out["per_rank_bytes"]
    assert {"params", "grads", "optimizer", "activations", "total"} <= set(parts)
    # fp32 weights sharded 8 ways (FSDP2 pads each tensor's rows to a multiple of 8).
    assert parts["params"] == pytest.approx(4 * 124_439_808 / 8, rel=0.01)
    assert parts["total"] >= parts["params"] + parts["grads"] + parts["optimizer"]
    assert out["comm_bytes_per_step"] == pytest.approx(3 * 7 / 8 * 4 * 124_439_808, rel=0.01)
    assert out["setup"]["precision"] == "bf16-mixed"


def test_preset_and_run_config(capsys, tmp_path):
    out = _json(capsys, ["plan", "gpt-tiny", "--json"])
    assert out["model"] == "gpt" and out["setup"]["strategy"] == "single"
    assert any("vocab_size" in note for note in out["notes"])
    toml = tmp_path / "job.toml"
    toml.write_text('model = "vae"\nstrategy = "ddp"\nnproc = 2\nbatch_size = 32\n'
                    "[model_config]\nimage_size = 28\n")
    out = _json(capsys, ["plan", str(toml), "--json"])
    assert out["model"] == "vae" and out["setup"]["batch_size"] == 16
    assert out["per_rank_bytes"]["activations"] > 0


def test_compare_all_strategies(capsys):
    out = _json(capsys, ["plan", *SHAPE, "--strategy", "all", "--world-size", "4",
                         "--gpu", "H100 SXM", "--json"])
    rows = {r["strategy"]: r for r in out["strategies"]}
    assert set(rows) == {"single", "ddp", "fsdp", "fsdp_grad_op", "tp", "fsdp_tp"}
    assert rows["fsdp"]["params"] < rows["ddp"]["params"]
    assert rows["ddp"]["fits"] is True
    main(["plan", *SHAPE, "--strategy", "all", "--world-size", "4"])
    text = capsys.readouterr().out
    assert "fsdp_tp" in text and "GiB" in text


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--layers", "2", "--d-model", "100", "--heads", "3", "--vocab", "10", "--seq-len", "8"],
         "divisible by n_head"),
        ([*SHAPE, "--strategy", "tp", "--world-size", "5"], "must divide the number of heads"),
        ([*SHAPE, "--strategy", "fsdp_tp", "--world-size", "6", "--tp", "4"], "multiple of tp"),
        ([*SHAPE, "--batch-size", "0"], "batch_size"),
        (["--layers", "-1", "--d-model", "64", "--heads", "4", "--vocab", "10", "--seq-len", "8"],
         "n_layer"),
        (["--layers", "2"], "missing --d-model"),
        (["no-such-preset"], "presets: "),
        ([*SHAPE, "--gpu", "Abacus"], "unknown GPU"),
        ([*SHAPE, "--link", "smoke-signals"], "link must be one of"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, needle):
    assert main(["plan", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_lists(capsys):
    out = _json(capsys, ["plan", "--list-gpus", "--list-links", "--json"])
    assert "H100 SXM" in out["gpus"] and "nvlink4" in out["links"]
