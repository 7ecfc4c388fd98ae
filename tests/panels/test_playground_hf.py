"""The playground with Hugging Face causal LMs: chat mode, a base model beside a chat model,
the truncation note, the stop list."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from backends.text.generation import generate
from backends.text.models import load_text_model
from backends.text.sampling import SamplingConfig
from panels.playground.generate_tab import format_stop_strings, parse_stop_strings
from panels.playground.panel import PlaygroundPanel
from tests.backends.hf_folders import make_folder
from workbench.context import AppContext
from workbench.settings import AppSettings

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return make_folder(root / "llama-chat", "llama"), make_folder(
        root / "qwen2-base", "qwen2", chat=False, seed=1
    )


@pytest.fixture
def panel(qtbot, tmp_path, folders):
    context = AppContext(tmp_path / "runs", AppSettings())
    widget = PlaygroundPanel(context)
    qtbot.addWidget(widget)
    chat_key = widget.add_model(folders[0])
    base_key = widget.add_model(folders[1])
    widget.columns[0].set_model(chat_key)
    widget.columns[1].set_model(base_key)
    widget.columns[0].set_sampling(greedy=True)
    widget.columns[1].set_sampling(greedy=True)
    widget.new_seed.setChecked(False)
    widget.max_tokens.setValue(8)
    yield widget
    widget.shutdown()


def play_round(qtbot, panel):
    with qtbot.waitSignal(panel.sig_round_finished, timeout=30000):
        assert panel.run_all()
    qtbot.waitUntil(lambda: not panel._runner.is_busy())


def test_chat_model_and_base_model_side_by_side(qtbot, panel, folders):
    panel.prompt.setPlainText("In the beginning")
    play_round(qtbot, panel)
    assert [c.status for c in panel.columns] == ["done", "done"]
    for column, folder in zip(panel.columns, folders, strict=True):
        loaded = load_text_model(folder)
        expected = generate(
            loaded.model,
            loaded.tokenizer,
            "In the beginning",
            SamplingConfig(greedy=True, max_new_tokens=8),
        )
        assert [t.token_id for t in column.tokens] == [t.token_id for t in expected.tokens]
        assert "hf" in column.stats.text() or column.result.generated_tokens >= 1


def test_chat_mode_renders_each_columns_template_and_keeps_replies(qtbot, panel, folders):
    panel.generate_tab.chat_mode.setChecked(True)
    assert panel.chat.isVisibleTo(panel) and not panel.prompt.isVisibleTo(panel)
    panel.chat.system.setText("Answer briefly.")
    panel.chat.message.setPlainText("What is two plus two?")
    panel.columns[1].set_model(panel.columns[0].model_key())  # both columns: the chat model
    panel.columns[1].set_sampling(temperature=0.8, top_k=20)
    play_round(qtbot, panel)
    loaded = load_text_model(folders[0])
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is two plus two?"},
    ]
    chat = loaded.tokenizer.chat_text(messages)
    assert panel.columns[0].status == "done" and panel.columns[0].prompt_text == chat
    expected = generate(
        loaded.model,
        loaded.tokenizer,
        loaded.tokenizer.chat_ids(messages),
        SamplingConfig(greedy=True, max_new_tokens=8),
    )
    assert [t.token_id for t in panel.columns[0].tokens] == [t.token_id for t in expected.tokens]

    reply = panel.columns[0].text
    assert panel.keep_reply(0)
    assert panel.chat.messages() == [*messages, {"role": "assistant", "content": reply}]

    # A base model has no chat template: that column says so, the other still answers.
    panel.columns[1].set_model(panel.add_model(folders[1]))
    panel.chat.message.setPlainText("And the earth?")
    play_round(qtbot, panel)
    assert panel.columns[0].status == "done" and panel.columns[1].status == "failed"
    assert "has no chat template" in panel.context.errors[-1]


def test_long_prompt_shows_the_truncation_note(qtbot, panel):
    panel.prompt.setPlainText("In the beginning God created the heaven and the earth. " * 10)
    play_round(qtbot, panel)
    column = panel.columns[0]
    assert column.status == "done" and column.note.isVisibleTo(panel)
    dropped = column.result.dropped_prompt_tokens
    assert dropped > 0 and f"first {dropped} tokens" in column.note.text()


def test_stop_list_is_one_string_per_row_used_exactly(qtbot, panel):
    assert parse_stop_strings("\\n\\n\n Amen\n\nQ: ") == ("\n\n", " Amen", "Q: ")
    assert parse_stop_strings(format_stop_strings(("\n\n", " Amen "))) == ("\n\n", " Amen ")
    panel.generate_tab.set_stop_strings(["\n\n", " Amen"])
    assert panel._stop_strings() == ("\n\n", " Amen")


def test_templates_preview_says_how_the_prompt_fits(qtbot, panel):
    editor = panel.templates
    editor.instruction.setPlainText("Continue.")
    editor.query.setText("In the beginning")
    assert panel.measure_template()
    qtbot.waitUntil(lambda: "fits the context of 64" in editor.fit_label.text(), timeout=20000)
    editor.instruction.setPlainText("In the beginning God created the heaven and the earth. " * 8)
    assert panel.measure_template()
    qtbot.waitUntil(lambda: "left-truncated" in editor.fit_label.text(), timeout=20000)
    assert "did not fit the model's context of 64 tokens" in editor.fit_label.text()
