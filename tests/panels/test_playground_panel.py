"""The text playground panel: streaming into columns, Stop, alternatives, perplexity, templates."""

from __future__ import annotations

import json

import pytest
import torch
from PySide6.QtCore import Qt

from backends.data.text import CharTokenizer
from backends.models.gpt import GPT, GPTConfig
from backends.text.generation import generate
from backends.text.models import load_text_model
from backends.text.sampling import SamplingConfig
from backends.text.scoring import score_text
from panels.playground.panel import PlaygroundPanel
from workbench.context import AppContext
from workbench.settings import AppSettings

TEXT = "In the beginning God created the heaven and the earth.\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def save_tiny_gpt(folder, seed):
    """A tiny random GPT saved in the checkpoint format (weights + meta with tokenizer)."""
    from safetensors.torch import save_file

    folder.mkdir()
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=len(tokenizer), block_size=32, n_layer=1, n_head=2, n_embd=16)
    model = GPT(config)
    with torch.no_grad():
        model.transformer.wte.weight.mul_(10)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"},
        str(folder / "model.safetensors"),
    )
    meta = {
        "model": "gpt",
        "model_config": config.to_dict(),
        "step": 0,
        "tokenizer": tokenizer.to_dict(),
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_gpt(tmp_path_factory.mktemp("ckpt") / "tiny-gpt", seed=0)


@pytest.fixture
def panel(qtbot, tmp_path, checkpoint):
    context = AppContext(tmp_path / "runs", AppSettings())
    widget = PlaygroundPanel(context)
    qtbot.addWidget(widget)
    key = widget.add_model(checkpoint)
    for column in widget.columns:
        column.set_model(key)
    widget.new_seed.setChecked(False)
    widget.prompt.setPlainText("In the")
    yield widget
    widget.shutdown()


def play_round(qtbot, panel, start=None):
    with qtbot.waitSignal(panel.sig_round_finished, timeout=20000):
        assert (start or panel.run_all)()
    qtbot.waitUntil(lambda: not panel._runner.is_busy())


def test_streams_tokens_into_every_column_with_speed_and_the_same_seed(qtbot, panel, checkpoint):
    panel.max_tokens.setValue(40)
    panel.seed.setValue(7)
    for column in panel.columns:
        column.set_sampling(temperature=1.0)
    streamed = []
    panel.sig_token.connect(lambda i, token: streamed.append(i))
    play_round(qtbot, panel)
    first, second = panel.columns
    assert first.status == second.status == "done"
    assert len(first.tokens) == 40 and first.text == second.text  # same model, settings, seed
    assert streamed.count(0) == 40 and streamed.count(1) == 40
    # What the panel shows is what the engine makes with that seed.
    loaded = load_text_model(checkpoint)
    expected = generate(
        loaded.model, loaded.tokenizer, "In the", SamplingConfig(seed=7, max_new_tokens=40)
    )
    assert first.text == expected.text
    assert "In the" + first.text.replace("\n", "\u21b5\n") in first.view.toPlainText()
    assert "seed 7" in first.stats.text() and "tokens/s" in first.stats.text()
    assert "first token" in first.stats.text()

    before = first.text
    panel.new_seed.setChecked(True)
    play_round(qtbot, panel, panel.repeat)  # a round again, same seed: the same text
    assert first.text == before and panel.seed.value() == 7


def test_stop_halts_the_stream_and_keeps_what_was_shown(qtbot, panel):
    panel.max_tokens.setValue(100000)
    panel.run_all()
    qtbot.waitUntil(lambda: len(panel.columns[0].tokens) >= 5, timeout=10000)
    with qtbot.waitSignal(panel.sig_round_finished, timeout=5000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel._runner.is_busy(), timeout=5000)
    column = panel.columns[0]
    count = len(column.tokens)
    assert column.status == "stopped" and 5 <= count < 100000
    assert panel.columns[1].status == "stopped"
    qtbot.wait(100)  # let anything still queued arrive: it must be dropped
    assert len(column.tokens) == count
    assert panel.run_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "stopped" in column.stats.text()


def test_alternatives_popup_continues_from_the_chosen_token(qtbot, panel):
    panel.max_tokens.setValue(12)
    play_round(qtbot, panel)
    column = panel.columns[0]
    token = column.tokens[3]
    column.open_alternatives(3)
    assert column.popup.isVisible() and len(column.popup.buttons) == 5
    assert "after samplers" in column.details.text()
    other = next(a for a in token.alternatives if a.token_id != token.token_id)
    index = [a.token_id for a in token.alternatives].index(other.token_id)
    with qtbot.waitSignal(panel.sig_round_finished, timeout=20000):
        qtbot.mouseClick(column.popup.buttons[index], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel._runner.is_busy())
    assert not column.popup.isVisible()
    assert column.tokens[3].token_id == other.token_id and column.marked == {3}
    assert len(column.tokens) == 12 and column.status == "done"


def test_perplexity_tab_scores_two_models_side_by_side(qtbot, panel, checkpoint, tmp_path):
    other = save_tiny_gpt(tmp_path / "other-gpt", seed=1)
    panel.add_column().set_model(panel.add_model(other))  # columns: tiny, tiny, other
    text = "In the beginning God created"
    panel.score_text.setPlainText(text)
    with qtbot.waitSignal(panel.sig_scored, timeout=20000):
        panel.score_all()
    qtbot.waitUntil(lambda: not panel._runner.is_busy())
    shown = [c for c in panel.score_columns if not c.isHidden()]
    assert len(shown) == 2  # each distinct model once
    for score_column, folder in zip(shown, (checkpoint, other), strict=True):
        loaded = load_text_model(folder)
        expected = score_text(loaded.model, loaded.tokenizer, text)
        assert folder.name in score_column.title.text()
        assert score_column.score.total_bits == pytest.approx(expected.total_bits, rel=1e-5)
        assert f"perplexity {expected.perplexity:.3f}" in score_column.summary.text()
    assert shown[0].score.total_bits != pytest.approx(shown[1].score.total_bits)


def test_bad_input_is_a_message_not_a_crash(qtbot, panel, tmp_path):
    panel.prompt.setPlainText("In the \u00e9")  # not in the model's vocabulary
    panel.max_tokens.setValue(5)
    play_round(qtbot, panel)
    assert panel.columns[0].status == "failed"
    assert "never saw" in panel.context.errors[-1] and "'\u00e9'" in panel.context.errors[-1]
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    panel.columns[1].set_model(panel.add_model(not_a_model))
    panel.prompt.setPlainText("In the")
    play_round(qtbot, panel)
    assert panel.columns[0].status == "done" and panel.columns[1].status == "failed"
    assert "neither a workbench checkpoint" in panel.context.errors[-1]


def test_templates_build_save_reload_and_become_the_prompt(qtbot, panel):
    editor = panel.templates
    editor.name.setText("verses")
    editor.instruction.setPlainText("Continue the verse.")
    editor.input_label.setText("Q:")
    editor.output_label.setText("A:")
    editor.add_example("In the beginning", "God created")
    editor.add_example("And God said", "Let there be light")
    editor.query.setText("And the earth")
    assert editor.shots.value() == 2 and editor.shots_label.text() == "2-shot"
    editor.shots.setValue(1)
    assert editor.shots_label.text() == "one-shot"
    assert editor.preview.toPlainText() == (
        "Continue the verse.\n\nQ: In the beginning\nA: God created\n\nQ: And the earth\nA:"
    )
    path = editor.save()
    assert path is not None and path.is_file()
    editor.set_template(type(editor.template())())  # cleared
    assert editor.examples.rowCount() == 0
    editor.saved.setCurrentIndex(editor.saved.findData(str(path)))
    editor.load_selected()
    assert editor.examples.rowCount() == 2 and editor.shots.value() == 1
    qtbot.mouseClick(editor.use_button, Qt.MouseButton.LeftButton)
    assert panel.prompt.toPlainText().endswith("Q: And the earth\nA:")
    assert panel._stop_strings() == ("\nQ:",) and panel.tabs.currentIndex() == 0


def test_a_round_sends_its_messages_in_order_and_a_bad_column_does_not_stop_it(checkpoint, tmp_path):
    from backends.text.sampling import SamplingConfig as Config
    from panels.playground.rounds import (
        ColumnFailed,
        ColumnFinished,
        ColumnStarted,
        Job,
        ModelCache,
        TokenStreamed,
        generate_round,
    )

    empty = tmp_path / "empty"
    empty.mkdir()
    jobs = [
        Job(0, str(empty), "In the", Config(seed=3, max_new_tokens=6)),
        Job(1, str(checkpoint), "In the", Config(seed=3, max_new_tokens=6)),
    ]
    messages: list[object] = []
    generate_round(jobs, ModelCache(), partial=messages.append)
    kinds = [type(m) for m in messages]
    assert kinds == [ColumnFailed, ColumnStarted, *[TokenStreamed] * 6, ColumnFinished]
    assert "neither a workbench checkpoint" in messages[0].message
    finished = messages[-1]
    assert [m.token for m in messages[2:-1]] == finished.result.tokens
    assert all(m.column == 1 for m in messages[1:])
