"""The Scaling tab fits only comparable runs and says which it left out; empty, it says what to do."""

from __future__ import annotations

import itertools

import pytest

from backends.runs import MetricsWriter, create_run, record_event
from panels.monitor.scaling_view import ScalingView, fit_runs_folder
from workbench.tasks import TaskRunner


def _finished(folder, name: str, config: dict, loss: float) -> None:
    run = create_run(folder, name, config)
    with MetricsWriter(run, 0) as writer:
        writer.write(3, loss=loss)
    record_event(run, "finished")


def test_a_gan_run_is_left_out_of_the_gpt_fit_and_named(tmp_path):
    for i, width in enumerate([16, 32, 64, 128]):
        _finished(tmp_path, f"gpt-{width}",
                  {"model": "gpt", "batch_size": 8, "data": {"dataset": "kjv"},
                   "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2,
                                    "n_head": 4, "n_embd": width}}, 3.0 * (1 + i) ** -0.3)
    _finished(tmp_path, "gan", {"model": "dcgan", "batch_size": 8,
                                "data": {"dataset": "fashion-mnist-subset"}}, 0.7)
    result = fit_runs_folder(tmp_path, bootstrap=20)
    assert sorted(result.names) == ["gpt-128", "gpt-16", "gpt-32", "gpt-64"]
    assert any(line.startswith("gan: dcgan") for line in result.skipped)
    assert "Left out 1 run(s)" in result.words and result.fit is not None
    assert result.kaplan  # the language-model reference sits beside GPT runs only


def _gpt_runs(folder, widths) -> None:
    for i, width in enumerate(widths):
        _finished(folder, f"gpt-{width}",
                  {"model": "gpt", "batch_size": 8, "data": {"dataset": "kjv"},
                   "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2,
                                    "n_head": 4, "n_embd": width}}, 3.0 * (1 + i) ** -0.3)


@pytest.fixture
def view(qtbot):
    runner = TaskRunner(name="scaling-test")
    widget = ScalingView(runner)
    widget.BOOTSTRAP = 20
    qtbot.addWidget(widget)
    widget.resize(700, 420)
    widget.show()
    yield widget
    runner.shutdown()


def test_an_empty_runs_folder_shows_what_to_do_instead_of_empty_axes(view, qtbot, tmp_path):
    with qtbot.waitSignal(view.sig_updated, timeout=30_000):
        view.refresh(tmp_path, force=True)
    item = view.plot.plotItem
    assert view.is_empty() and "size sweep" in view.empty_hint.toPlainText()
    assert not item.getAxis("left").isVisible() and not item.getAxis("bottom").isVisible()
    assert not item.legend.isVisible()  # no legend of curves that are not there
    _gpt_runs(tmp_path, [16, 32, 64, 128])
    with qtbot.waitSignal(view.sig_updated, timeout=30_000):
        view.refresh(tmp_path, force=True)
    assert not view.is_empty()
    assert item.getAxis("left").isVisible() and item.getAxis("bottom").isVisible()
    assert item.legend.isVisible()
    # The log axes' labels do not run into each other.
    qtbot.waitUntil(lambda: item.getAxis("bottom").height() > 0, timeout=2000)
    for name in ("left", "bottom"):
        labels = item.getAxis(name).label_rects()
        assert len(labels) >= 2, name
        for (ta, a), (tb, b) in itertools.combinations(labels, 2):
            assert not a.intersects(b), f"{name}: {ta!r} and {tb!r} overlap"
