"""The text playground: stream generations side by side, see token probabilities, score texts.

Three tabs:

- **Generate**: one prompt (or, in chat mode, one conversation rendered with
  each column's own chat template), two or more columns (each a model plus
  sampling settings), "Run all" with the same seed. Tokens stream in on a worker and
  are coloured by the model's probability; hovering a token shows its
  alternatives, clicking opens them in a popup, and clicking an alternative
  continues the text from it. Each column reports tokens/s, token count and
  time to first token.
- **Perplexity**: paste a text; every column's model scores it, coloured by
  surprise (bits), with total bits and perplexity.
- **Templates**: a zero-, one- or few-shot prompt builder (instruction,
  examples, query), saved and reloaded as TOML.

The widgets are in :mod:`panels.playground`; this module assembles them and
owns the task slots: ``playground`` (generating and scoring, one round at a
time), ``playground-models`` (reading the runs folder for GPT runs, newest
listing wins) and ``playground-measure`` (the template preview's token count).
A round's tokens reach the GUI thread as the task runner's partial results
(:mod:`panels.playground.rounds`) and are drawn by a timer; what the controls
show follows :class:`~panels.playground.state.PlaygroundState`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QTabWidget, QVBoxLayout, QWidget

from panels.playground.generate_tab import GenerateTab
from panels.playground.generation_column import GenerationColumn
from panels.playground.model_list import ModelList, find_gpt_runs
from panels.playground.perplexity_tab import PerplexityTab
from panels.playground.rounds import (
    ColumnFailed,
    ColumnFinished,
    ColumnScored,
    ColumnStarted,
    Job,
    ModelCache,
    TokenStreamed,
    generate_round,
    score_round,
)
from panels.playground.state import PlaygroundState
from panels.playground.templates_tab import TemplateEditor
from workbench.context import AppContext
from workbench.tasks import error_message

DRAW_INTERVAL_MS = 33  # the token views redraw at most ~30 times a second
DEFAULT_COLUMNS = 2
MEASURE_DELAY_MS = 300  # the template preview is measured once typing pauses


class PlaygroundPanel(QWidget):
    """Prompt, columns of models, token probabilities, perplexity and templates.

    Signals
    -------
    sig_token(int, object)      a token reached a column (column index, GeneratedToken)
    sig_round_finished()        every column of a round finished, failed or was stopped
    sig_scored()                the perplexity tab has every column's score
    """

    sig_token = Signal(int, object)
    sig_round_finished = Signal()
    sig_scored = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.state = PlaygroundState()
        self.columns: list[GenerationColumn] = []
        self._models = ModelCache()
        self._model_list = ModelList()
        self._runner = context.task_runner(self, "playground")
        self._models_runner = context.task_runner(self, "playground-models")
        # The template preview is measured against column 1's model on its own slot (tokenizer
        # and config only for Hugging Face folders), debounced, newest request wins.
        self._measure_runner = context.task_runner(self, "playground-measure")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self._add_generate_tab()
        self._add_perplexity_tab()
        self._add_templates_tab(Path(context.settings.path).parent / "prompt-templates")

        self._timer = QTimer(self)
        self._timer.setInterval(DRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._draw)
        context.events.sig_checkpoint_opened.connect(self._on_checkpoint_opened)
        context.events.sig_runs_dir_changed.connect(lambda _path: self.refresh_models())
        for _ in range(DEFAULT_COLUMNS):
            self.add_column()
        self.refresh_models()
        if len(self.columns) > 1:  # two different starting points, to make the comparison visible
            self.columns[1].set_sampling(temperature=0.7, top_k=20, top_p=0.9, penalty=1.1)
        self._update_buttons()

    def _add_generate_tab(self) -> None:
        self.generate_tab = tab = GenerateTab()
        tab.run_button.clicked.connect(self.run_all)
        tab.stop_button.clicked.connect(self.stop)
        tab.repeat_button.clicked.connect(self.repeat)
        tab.add_button.clicked.connect(lambda: self.add_column())
        # The generate controls as the panel's own attributes, for tests and tools to drive.
        self.prompt = tab.prompt
        self.run_button, self.stop_button = tab.run_button, tab.stop_button
        self.repeat_button, self.add_button = tab.repeat_button, tab.add_button
        self.seed, self.new_seed = tab.seed, tab.new_seed
        self.max_tokens, self.stop_strings = tab.max_tokens, tab.stop_strings
        self.splitter = tab.splitter
        self.chat = tab.chat
        tab.keep_reply.clicked.connect(lambda: self.keep_reply(tab.keep_column.value() - 1))
        self.tabs.addTab(tab, "Generate")

    def _add_perplexity_tab(self) -> None:
        self.perplexity_tab = PerplexityTab()
        self.perplexity_tab.button.clicked.connect(self.score_all)
        self.tabs.addTab(self.perplexity_tab, "Perplexity")
        # The perplexity controls as the panel's own attributes, for tests and tools to drive.
        self.score_text = self.perplexity_tab.text
        self.score_button = self.perplexity_tab.button
        self.score_columns = self.perplexity_tab.columns

    def _add_templates_tab(self, folder: Path) -> None:
        self.templates = TemplateEditor(folder)
        self.templates.on_error = self.context.show_error
        self.templates.sig_use.connect(self._use_template)
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self.measure_template)
        self.templates.sig_preview_changed.connect(lambda _text: self._measure_timer.start())
        self.tabs.addTab(self.templates, "Templates")

    # ------------------------------------------------------------ columns and models

    def add_column(self) -> GenerationColumn:
        column = GenerationColumn(len(self.columns))
        column.sig_remove.connect(self.remove_column)
        column.sig_continue.connect(self.continue_from)
        column.sig_browse.connect(self._browse)
        column.set_model_choices(self.model_choices())
        if self.columns and self.columns[-1].model_key():
            column.set_model(self.columns[-1].model_key())
        self.columns.append(column)
        self.splitter.addWidget(column)
        self._update_buttons()
        return column

    def remove_column(self, index: int) -> None:
        if len(self.columns) <= 1 or not self.state.idle:
            return
        column = self.columns.pop(index)
        column.setParent(None)
        column.deleteLater()
        for i, col in enumerate(self.columns):
            col.set_index(i)
        self._update_buttons()

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, key) of every model on offer: demos, GPT runs, folders opened by hand."""
        return self._model_list.choices()

    def refresh_models(self) -> None:
        """Offer what is known now, and read the runs folder again on a worker."""
        self._offer_models()
        self._models_runner.submit(
            find_gpt_runs,
            self.context.runs_dir,
            on_done=self._on_runs_found,
            on_error=lambda error, _details: self.context.show_error(
                f"reading the runs folder: {error_message(error)}"
            ),
            supersede=True,
        )

    def _on_runs_found(self, runs: list[Path]) -> None:
        if runs == self._model_list.runs:
            return  # the lists stay as they are (an open one is not rebuilt under the mouse)
        self._model_list.runs = runs
        self._offer_models()

    def _offer_models(self) -> None:
        choices = self.model_choices()
        for column in self.columns:
            column.set_model_choices(choices)

    def add_model(self, path: str | Path) -> str:
        """Offer a checkpoint, run or GPT-2 folder in every column; returns its key."""
        key = self._model_list.add(path)
        self.refresh_models()
        return key

    def _browse(self, index: int) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Model folder (checkpoint, run or Hugging Face GPT-2)", str(self.context.runs_dir)
        )
        column = self.columns[index]
        if folder:
            column.set_model(self.add_model(folder))
        else:
            column.set_model_choices(self.model_choices())

    def _on_checkpoint_opened(self, path: Path) -> None:
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        key = self.add_model(folder)
        self.columns[0].set_model(key)

    def _model_key(self, column: GenerationColumn) -> str | None:
        """The column's model key; None, after telling the user, when it has none."""
        key = column.model_key()
        if key is None:
            self.context.show_error(f"column {column.index + 1} has no model; pick one in its list")
        return key

    # ------------------------------------------------------------ generating

    def _stop_strings(self) -> tuple[str, ...]:
        return self.generate_tab.stop_strings_value()

    def run_all(self) -> bool:
        """Every column continues the prompt, with the same seed, one column after another."""
        if self.new_seed.isChecked():
            self.seed.setValue(random.randrange(2**31))
        return self._start_all(self.seed.value())

    def repeat(self) -> bool:
        """The last round again with its seed: the same text, token for token."""
        if self.state.last_seed is None:
            return self.run_all()
        self.seed.setValue(self.state.last_seed)
        return self._start_all(self.state.last_seed)

    def _start_all(self, seed: int) -> bool:
        from backends.text.errors import GenerationError

        prompt = self.prompt.toPlainText()
        messages = None
        if self.generate_tab.chat_mode.isChecked():
            messages = self.chat.messages()
            if not any(m["role"] != "system" for m in messages):
                self.context.show_error("chat mode: type a message for the models to answer")
                return False
            prompt = self.chat.summary()
        dtype = self.generate_tab.dtype_value()
        jobs = []
        for column in self.columns:
            key = self._model_key(column)
            if key is None:
                return False
            config = column.sampling_config(
                max_new_tokens=self.max_tokens.value(), seed=seed, stop=self._stop_strings()
            )
            try:
                config.validate()
            except GenerationError as exc:
                self.context.show_error(f"column {column.index + 1}: {exc}")
                return False
            jobs.append(Job(column.index, key, prompt, config, messages=messages, dtype=dtype))
        self.state.last_seed = seed
        for column in self.columns:
            column.prompt_ids = None
            column.begin(prompt)
        self._submit_round(jobs)
        return True

    def continue_from(self, column_index: int, token_index: int, alternative: Any) -> bool:
        """Replace token ``token_index`` of a column by ``alternative`` and generate on from it."""
        if not self.state.idle:
            self.context.show_status("stop the running generation first")
            return False
        column = self.columns[column_index]
        key = column.model_key()
        continuation = column.continuation(token_index, alternative) if key is not None else None
        if continuation is None:
            return False
        prefix, ids = continuation
        left = max(1, self.max_tokens.value() - len(prefix))
        seed = self.state.last_seed if self.state.last_seed is not None else self.seed.value()
        config = column.sampling_config(max_new_tokens=left, seed=seed, stop=self._stop_strings())
        column.begin(column.prompt_text, prefix=prefix, marked=token_index)  # keeps prompt_ids
        dtype = self.generate_tab.dtype_value()
        self._submit_round([Job(column.index, key, ids, config, truncate=True, dtype=dtype)])
        return True

    def keep_reply(self, column_index: int) -> bool:
        """Chat: the typed message and that column's answer join the conversation."""
        if not 0 <= column_index < len(self.columns) or not self.state.idle:
            return False
        column = self.columns[column_index]
        if column.result is None or not column.text:
            self.context.show_status(f"column {column_index + 1} has no reply to keep")
            return False
        self.chat.add_typed()
        self.chat.add_message("assistant", column.text)
        return True

    def _submit_round(self, jobs: list[Job]) -> None:
        self.state.round = "generating"
        self._runner.submit(
            generate_round,
            jobs,
            self._models,
            on_partial=self._on_partial,
            on_done=self._on_round_done,
            on_error=self._on_round_failed,
        )
        self._timer.start()
        self._update_buttons()

    def stop(self) -> None:
        """Stop generating now; what has been shown stays."""
        if self.state.idle:
            return
        self._runner.cancel()  # the runner drops whatever the stopped round still sends
        for column in self.columns:
            column.stop()
        self._finish_round()

    # ------------------------------------------------------------ a round's messages

    def _on_partial(self, message: object) -> None:
        """One message of the current round (see :mod:`panels.playground.rounds`)."""
        match message:
            case TokenStreamed(column=index, token=token):
                column = self._column(index)
                if column is not None and column.status == "running":
                    column.add_token(token)
                    self.sig_token.emit(index, token)
            case ColumnStarted():
                column = self._column(message.column)
                if column is not None:
                    column.started(
                        message.prompt_ids, message.description, message.shown, message.note
                    )
            case ColumnFinished(column=index, result=result):
                column = self._column(index)
                if column is not None:
                    column.finish(result)
            case ColumnScored(column=index, model_name=name, score=score):
                if 0 <= index < len(self.score_columns):
                    self.score_columns[index].show_score(f"{index + 1}: {name}", score)
            case ColumnFailed():
                self._on_column_failed(message)

    def _column(self, index: int) -> GenerationColumn | None:
        return self.columns[index] if 0 <= index < len(self.columns) else None

    def _on_column_failed(self, failed: ColumnFailed) -> None:
        index = failed.column
        if self.state.round == "scoring":
            if 0 <= index < len(self.score_columns):
                self.score_columns[index].show_error(failed.message)
        else:
            column = self._column(index)
            if column is not None:
                column.fail(failed.message)
        self.context.show_error(f"column {index + 1}: {failed.message}")

    def _on_round_done(self, _result: object) -> None:
        """Every column of the round has reported."""
        self._finish_round()

    def _on_round_failed(self, error: BaseException, _details: str) -> None:
        """The worker ended without reporting every column (an unexpected error)."""
        self.context.show_error(error_message(error))
        for column in self.columns:
            if column.status in ("running", "waiting"):
                column.fail("the generation ended unexpectedly")
        self._finish_round()

    def _finish_round(self) -> None:
        was = self.state.end_round()
        self._draw()
        self._timer.stop()
        self._update_buttons()
        if was == "generating":
            self.sig_round_finished.emit()
        elif was == "scoring":
            self.sig_scored.emit()

    def _draw(self) -> None:
        for column in self.columns:
            column.draw()

    def _update_buttons(self) -> None:
        idle = self.state.idle
        self.run_button.setEnabled(idle)
        self.repeat_button.setEnabled(idle and self.state.last_seed is not None)
        self.stop_button.setEnabled(not idle)
        self.add_button.setEnabled(idle)
        self.score_button.setEnabled(idle)
        for column in self.columns:
            column.remove_button.setEnabled(idle and len(self.columns) > 1)

    # ------------------------------------------------------------ perplexity

    def score_all(self) -> bool:
        """Score the pasted text with each distinct model of the columns, side by side."""
        text = self.score_text.toPlainText()
        models: list[str] = []
        for column in self.columns:
            key = self._model_key(column)
            if key is None:
                return False
            if key not in models:
                models.append(key)
        keys = list(enumerate(models))
        self.perplexity_tab.prepare(len(keys))
        self.state.round = "scoring"
        self._runner.submit(
            score_round,
            text,
            keys,
            self._models,
            dtype=self.generate_tab.dtype_value(),
            on_partial=self._on_partial,
            on_done=self._on_round_done,
            on_error=self._on_round_failed,
        )
        self._update_buttons()
        return True

    # ------------------------------------------------------------ templates

    def measure_template(self) -> bool:
        """Count the template preview's tokens with column 1's model; note any truncation."""
        from backends.text.prompts import measure_prompt

        key = self.columns[0].model_key() if self.columns else None
        if key is None:
            self.templates.show_fit("", False)
            return False
        self._measure_runner.submit(
            measure_prompt,
            key,
            self.templates.preview.toPlainText(),
            supersede=True,
            on_done=lambda fit: self.templates.show_fit(f"column 1: {fit.note}", fit.dropped > 0),
            on_error=lambda error, _details: self.templates.show_fit(f"column 1: {error}", True),
        )
        return True

    def _use_template(self, text: str, stop: str) -> None:
        self.generate_tab.chat_mode.setChecked(False)
        self.prompt.setPlainText(text)
        self.generate_tab.set_stop_strings([stop] if stop else [])
        self.tabs.setCurrentWidget(self.generate_tab)

    # ------------------------------------------------------------ closing

    def is_busy(self) -> bool:
        """Generating or scoring right now."""
        return not self.state.idle

    def shutdown(self) -> None:
        self._timer.stop()
        self._measure_timer.stop()
        self._runner.shutdown()
        self._models_runner.shutdown()
        self._measure_runner.shutdown()
        for column in self.columns:
            column.popup.hide()
