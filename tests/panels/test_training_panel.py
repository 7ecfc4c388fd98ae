"""The launcher form: validation on the named field, the exact command, presets, exports."""

from __future__ import annotations

import tomllib

import pytest

from panels.training.panel import TrainingPanel
from tests.panels.panel_support import edit
from workbench.context import AppContext
from workbench.settings import AppSettings


@pytest.fixture
def panel(qtbot, tmp_path):
    context = AppContext(tmp_path / "runs", AppSettings())
    (tmp_path / "runs").mkdir()
    widget = TrainingPanel(context)
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: widget.prepared is not None and not widget.is_busy(), timeout=60000)
    yield widget
    widget.shutdown()


def test_a_preset_loads_valid_and_shows_the_exact_command(panel):
    assert panel.preset_box.currentText() == "gpt-tiny"
    assert panel.launch_button.isEnabled()
    command = panel.command_view.toPlainText()
    assert "torch.distributed.run" in command and "--nproc-per-node 1" in command
    assert f"--run-dir {panel.context.runs_dir / 'gpt-tiny'}" in command
    # The preview is the schedule: warm-up up to lr, cosine down to lr * min_lr_ratio.
    steps, lrs = panel.lr_curve.getData()
    assert steps[0] == 0 and max(lrs) == pytest.approx(3e-3)
    assert lrs[-1] < 0.11 * 3e-3 * 1.5


@pytest.mark.parametrize("key, value, wrong_field, words", [
    ("name", "", "name", "name is empty"),
    ("lr", "0", "lr", "lr must be a positive number"),
    ("lr", "-1e-3", "lr", "lr must be a positive number"),
    ("lr", "fast", "lr", "must be a number"),
    ("device", "cuda", "device", "no CUDA device"),
])
def test_bad_input_shows_on_its_field_and_blocks_launch(qtbot, panel, key, value, wrong_field,
                                                        words):
    edit(qtbot, panel, key, value)
    assert words in panel.form.field_error(wrong_field)
    assert not panel.launch_button.isEnabled()
    assert panel.command_view.toPlainText() == ""
    panel.launch()  # even if called, nothing starts
    assert list(panel.context.runs_dir.iterdir()) == []


def test_tp_degree_that_does_not_divide_heads_is_named(qtbot, panel):
    edit(qtbot, panel, "strategy", "tp")
    edit(qtbot, panel, "nproc", 3)
    assert "must divide model_config.n_head" in panel.form.field_error("nproc")
    assert not panel.launch_button.isEnabled()
    edit(qtbot, panel, "nproc", 2)
    assert panel.form.field_error("nproc") == ""
    assert panel.launch_button.isEnabled()


def test_multi_node_shows_one_command_per_node_and_exports_slurm(qtbot, panel, tmp_path):
    edit(qtbot, panel, "strategy", "ddp")
    edit(qtbot, panel, "nnodes", 2)
    assert "rdzv_endpoint" in panel.form.field_error("rdzv_endpoint")
    edit(qtbot, panel, "rdzv_endpoint", "node0.cluster:29500")
    text = panel.command_view.toPlainText()
    assert "# node 0" in text and "# node 1" in text and "--node-rank 1" in text
    panel.export_slurm(tmp_path / "train.sbatch")
    script = (tmp_path / "train.sbatch").read_text()
    assert "#SBATCH --nodes=2" in script and "srun" in script


def test_saved_preset_comes_back(qtbot, panel):
    edit(qtbot, panel, "steps", 37)
    path = panel.save_preset("my-short-run")
    assert tomllib.loads(path.read_text())["steps"] == 37
    panel.load_preset("gpt-tiny")
    assert panel.form.editors["steps"].value() != 37
    panel.load_preset("my-short-run")
    assert panel.form.editors["steps"].value() == 37


def test_an_existing_run_name_is_refused(qtbot, panel):
    (panel.context.runs_dir / "taken").mkdir()
    edit(qtbot, panel, "name", "taken")
    assert "already exists" in panel.form.field_error("name")
