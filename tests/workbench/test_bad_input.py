"""Bad input on every verb: one line on stderr naming the problem and the fix, never a traceback.

A table of bad command lines across ``train``, ``runs``, ``plan``, ``eval``,
``sample`` and ``generate`` (missing files, non-UTF-8 TOML, NaN and infinite
numbers, negative and huge seeds, resample and token counts that would exhaust
memory, a billion-layer model for the planner, unknown names). Each runs through
the command line's own entry point in this process (torch is imported once, so
the time measured is the verb's, not the interpreter's start-up) and must answer
with a non-zero status and exactly one line on stderr, within 5 s.
"""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest

from workbench.cli import main

CASES = [
    # train
    ["train"],
    ["train", "nosuch-preset"],
    ["train", "missing.toml"],
    ["train", "latin1.toml"],
    ["train", "broken.toml"],
    ["train", "badmodel.toml"],
    ["train", "gpt-tiny", "--set", "steps=-5"],
    ["train", "gpt-tiny", "--set", "steps=abc"],
    ["train", "gpt-tiny", "--set", "nosuchkey=1"],
    ["train", "gpt-tiny", "--set", "noequals"],
    ["train", "gpt-tiny", "--set", "lr=nan"],
    ["train", "gpt-tiny", "--set", "strategy=warp"],
    ["train", "gpt-tiny", "--set", "nproc=0"],
    ["train", "gpt-tiny", "--set", "data.dataset=nosuch"],
    ["train", "gpt-tiny", "--print-command", "nope"],
    ["train", "--resume", "no-such-run"],
    ["train", "gpt-tiny", "--set", "model_config.n_layer=-1"],
    # runs
    ["runs", "--runs-dir"],
    ["runs", "--json", "--json", "extra"],
    ["runs", "extra-arg"],
    ["runs", "--jsn"],
    # plan
    ["plan"],
    ["plan", "nosuch-preset"],
    ["plan", "latin1.toml"],
    ["plan", "broken.toml"],
    ["plan", "--layers", "1000000000", "--d-model", "1024", "--heads", "16", "--vocab", "50000", "--seq-len", "1024"],
    ["plan", "--layers", "-2", "--d-model", "64", "--heads", "4", "--vocab", "100", "--seq-len", "64"],
    ["plan", "--layers", "2", "--d-model", "65", "--heads", "4", "--vocab", "100", "--seq-len", "64"],
    ["plan", "--layers", "2", "--d-model", "64", "--heads", "0", "--vocab", "100", "--seq-len", "64"],
    ["plan", "gpt-tiny", "--gpu-memory", "nan"],
    ["plan", "gpt-tiny", "--gpu-memory", "-4"],
    ["plan", "gpt-tiny", "--gpu-memory", "inf"],
    ["plan", "gpt-tiny", "--gpu", "Voodoo 2"],
    ["plan", "gpt-tiny", "--strategy", "warp"],
    ["plan", "gpt-tiny", "--world-size", "0"],
    ["plan", "gpt-tiny", "--tp", "3", "--strategy", "fsdp_tp", "--world-size", "4"],
    ["plan", "gpt-tiny", "--precision", "fp7"],
    ["plan", "gpt-tiny", "--batch-size", "-1"],
    ["plan", "gpt-tiny", "--bandwidth", "0"],
    ["plan", "gpt-tiny", "--tokens", "-1"],
    ["plan", "gpt-tiny", "--gpu-table", "missing.toml"],
    ["plan", "gpt-tiny", "--gpu-table", "latin1.toml"],
    ["plan", "gpt-tiny", "--link", "carrier-pigeon"],
    ["plan", "gpt-tiny", "--tokens-per-second", "nan"],
    ["plan", "--layers", "100000000", "--d-model", "64", "--heads", "4", "--vocab", "100", "--seq-len", "64"],
    # eval
    ["eval"],
    ["eval", "fairness"],
    ["eval", "fairness", "missing.csv", "--label", "label", "--pred", "pred", "--group", "g"],
    ["eval", "fairness", "empty.csv", "--label", "label", "--pred", "pred", "--group", "g"],
    ["eval", "fairness", "bin.csv", "--label", "label", "--pred", "pred", "--group", "g"],
    ["eval", "fairness", "tiny.csv", "--label", "nope", "--pred", "pred", "--group", "g"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--bootstrap", "-1"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--bootstrap", "100000000"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--bootstrap", "100", "--seed", "-1"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--bootstrap", "100", "--seed", "99999999999999999999999"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--confidence", "1.5", "--bootstrap", "100"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--pred", "pred", "--group", "g", "--confidence", "nan", "--bootstrap", "100"],
    ["eval", "fairness", "--demo", "compas", "--group", "nosuch"],
    ["eval", "fairness", "--demo", "nosuch"],
    ["eval", "fairness", "--demo", "compas", "--reference", "Martian"],
    ["eval", "fairness", "tiny.csv", "--label", "label", "--score", "pred", "--threshold", "nan", "--group", "g"],
    ["eval", "compare", "--demo", "compas", "--metric", "speed", "--bootstrap", "100"],
    ["eval", "compare", "--demo", "compas", "--bootstrap", "5"],
    ["eval", "compare", "tiny.csv", "--label", "label", "--pred-a", "pred", "--group", "g"],
    # sample
    ["sample"],
    ["sample", "no-such-checkpoint"],
    ["sample", "dcgan-fashion", "--n", "0"],
    ["sample", "dcgan-fashion", "--n", "-3"],
    ["sample", "dcgan-fashion", "--n", "100000000"],
    ["sample", "vae-fashion", "--temperature", "nan"],
    ["sample", "vae-fashion", "--temperature", "inf"],
    ["sample", "vae-fashion", "--temperature", "-1"],
    ["sample", "dcgan-fashion", "--seed", "99999999999999999999"],
    ["sample", "dcgan-fashion", "--seed", "-1"],
    ["sample", "dcgan-fashion", "--truncation", "nan"],
    ["sample", "dcgan-fashion", "--scale", "0"],
    ["sample", "dcgan-fashion", "--scale", "100000"],
    ["sample", "dcgan-fashion", "--cols", "0"],
    ["sample", "dcgan-fashion", "--out", "no/such/folder/x.png"],
    # generate
    ["generate", "gpt-kjv"],
    ["generate", "no-such-model", "--prompt", "hi"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--max-new-tokens", "100000000"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--max-new-tokens", "1e8"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--max-new-tokens", "-1"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--temperature", "nan"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--temperature", "-1"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--top-k", "-1"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--top-p", "1.5"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--top-p", "nan"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--repetition-penalty", "0"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--seed", "99999999999999999999"],
    ["generate", "gpt-kjv", "--prompt", "hi", "--seed", "-1"],
    ["generate", "gpt-kjv", "--prompt", ""],
    ["generate", "gpt-kjv", "--prompt", "\u2603\u2603 unknown chars"],
    ["generate", "tiny.csv", "--prompt", "hi"],
    # top level
    ["nosuchverb"],
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The bad files the table refers to, in a folder the commands run in."""
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "latin1.toml").write_bytes(b'name = "x"\nmodel = \xff\xfe"gpt"\n')
    (folder / "broken.toml").write_text('model = "gpt"\nsteps = \n')
    (folder / "badmodel.toml").write_text('model = "nosuchmodel"\n')
    (folder / "tiny.csv").write_text("label,pred,g\n1,1,a\n0,0,b\n")
    (folder / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    (folder / "empty.csv").write_text("")
    (folder / "runs").mkdir()
    # Import the engines once, so a case's time is its own work, not torch's import.
    import backends.evaluate.fairness
    import backends.latent.model
    import backends.plan.planner
    import backends.text.generation
    import backends.train.config  # noqa: F401
    return folder


def test_the_table_is_large_and_covers_every_verb():
    verbs = {argv[0] for argv in CASES}
    assert {"train", "runs", "plan", "eval", "sample", "generate"} <= verbs
    assert len(CASES) >= 60


@pytest.mark.parametrize("argv", CASES, ids=lambda argv: " ".join(argv)[:60])
def test_bad_input_is_one_line_and_no_traceback(argv, inputs, monkeypatch):
    monkeypatch.chdir(inputs)
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(inputs / "runs"))
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            status = exc.code
    elapsed = time.monotonic() - start
    lines = err.getvalue().strip().splitlines()
    assert status not in (0, None), f"accepted: {out.getvalue()[:200]!r}"
    assert len(lines) == 1, err.getvalue()
    assert "error" in lines[0] and "Traceback" not in err.getvalue()
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``workbench ... | head -1``: the reader leaves early; no BrokenPipeError traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "eval", "fairness", "--demo", "compas", "--group",
         "race", "--group", "sex", "--bootstrap", "200", "--json"],  # 250 kB: over a pipe's buffer
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # as head -1 does
    _, err = proc.communicate(timeout=120)
    assert first.strip() == b"{"
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["train", "gpt-tiny", "--set", "data.dataset=nosuch"], "dataset 'nosuch' is unknown"),
        (["train", "latin1.toml"], "is not UTF-8 text"),
        (["eval", "fairness", "--demo", "compas", "--group", "nosuch"], "choose one of race"),
        (["plan", "--layers", "1000000000", "--d-model", "1024", "--heads", "16", "--vocab",
          "50000", "--seq-len", "1024"], "parameters (closed form)"),
        (["generate", "gpt-kjv", "--prompt", "hi", "--max-new-tokens", "100000000"],
         "use at most 100,000"),
    ],
)
def test_the_line_names_the_problem_and_the_fix(argv, says, inputs, monkeypatch, capsys):
    monkeypatch.chdir(inputs)
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(inputs / "runs"))
    assert main(list(argv)) == 2
    assert says in capsys.readouterr().err
