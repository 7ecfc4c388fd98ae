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
owns the two task slots: ``playground`` (generating and scoring, one run at a
time) and ``playground-models`` (reading the runs folder for GPT runs, newest
listing wins). Tokens reach the GUI thread through queued signals carrying
their run id and are drawn by a timer.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QTabWidget, QVBoxLayout, QWidget

from panels.playground.generate_tab import GenerateTab
from panels.playground.generation_column import GenerationColumn
from panels.playground.model_list import ModelList, find_gpt_runs
from panels.playground.perplexity_tab import PerplexityTab
from panels.playground.run_book import RunBook
from panels.playground.streaming import Bridge, Job, ModelCache, run_jobs, score_jobs
from panels.playground.templates_tab import TemplateEditor
from workbench.context import AppContext

DRAW_INTERVAL_MS = 33  # the token views redraw at most ~30 times a second
DEFAULT_COLUMNS = 2
MEASURE_DELAY_MS = 300  # the template preview is measured once typing pauses


class PlaygroundPanel(QWidget):
    """Prompt, columns of models, token probabilities, perplexity and templates.

    Signals
    -------
    sig_token(int, object)      a token reached a column (column index, GeneratedToken)
    sig_run_finished()          every column of a run finished, failed or was stopped
    sig_scored()                the perplexity tab has every column's score
    """

    sig_token = Signal(int, object)
    sig_run_finished = Signal()
    sig_scored = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._runner = context.task_runner(self, "playground")
        self._runner.sig_failed.connect(lambda _id, message: self.context.show_error(message))
        self._runner.sig_idle.connect(self._on_idle)
        self._models_runner = context.task_runner(self, "playground-models")
        self._models_runner.sig_failed.connect(
            lambda _id, message: self.context.show_error(f"reading the runs folder: {message}")
        )
        self._bridge = Bridge(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._bridge.sig_started.connect(self._on_started, queued)
        self._bridge.sig_token.connect(self._on_token, queued)
        self._bridge.sig_finished.connect(self._on_finished, queued)
        self._bridge.sig_failed.connect(self._on_failed, queued)
        self._bridge.sig_scored.connect(self._on_scored, queued)
        self._models = ModelCache()
        self._book = RunBook()
        self._model_list = ModelList()
        self.last_seed: int | None = None
        self.columns: list[GenerationColumn] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.generate_tab = GenerateTab()
        self._connect_generate_tab()
        self.tabs.addTab(self.generate_tab, "Generate")
        self.perplexity_tab = PerplexityTab()
        self.perplexity_tab.button.clicked.connect(self.score_all)
        self.tabs.addTab(self.perplexity_tab, "Perplexity")
        # The perplexity controls as the panel's own attributes, for tests and tools to drive.
        self.score_text = self.perplexity_tab.text
        self.score_button = self.perplexity_tab.button
        self.score_columns = self.perplexity_tab.columns
        templates_dir = Path(context.settings.path).parent / "prompt-templates"
        self.templates = TemplateEditor(templates_dir)
        self.templates.on_error = context.show_error
        self.templates.sig_use.connect(self._use_template)
        # The preview is measured against column 1's model on its own slot (tokenizer and
        # config only for Hugging Face folders), debounced, newest request wins.
        self._measure_runner = context.task_runner(self, "playground-measure")
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self.measure_template)
        self.templates.sig_preview_changed.connect(lambda _text: self._measure_timer.start())
        self.tabs.addTab(self.templates, "Templates")

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

    def _connect_generate_tab(self) -> None:
        tab = self.generate_tab
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
        if len(self.columns) <= 1 or not self._book.idle:
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
            find_gpt_runs, self.context.runs_dir, on_done=self._on_runs_found, supersede=True
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

    # ------------------------------------------------------------ running

    def _stop_strings(self) -> tuple[str, ...]:
        return self.generate_tab.stop_strings_value()

    def run_all(self) -> bool:
        """Every column continues the prompt, with the same seed, one column after another."""
        if self.new_seed.isChecked():
            self.seed.setValue(random.randrange(2**31))
        return self._start_all(self.seed.value())

    def repeat(self) -> bool:
        """The last run again with its seed: the same text, token for token."""
        if self.last_seed is None:
            return self.run_all()
        self.seed.setValue(self.last_seed)
        return self._start_all(self.last_seed)

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
        self.last_seed = seed
        for column in self.columns:
            column.prompt_ids = None
            column.begin(prompt)
        self._submit(jobs)
        return True

    def continue_from(self, column_index: int, token_index: int, alternative: Any) -> bool:
        """Replace token ``token_index`` of a column by ``alternative`` and generate on from it."""
        if not self._book.idle:
            self.context.show_status("stop the running generation first")
            return False
        column = self.columns[column_index]
        key = column.model_key()
        continuation = column.continuation(token_index, alternative) if key is not None else None
        if continuation is None:
            return False
        prefix, ids = continuation
        left = max(1, self.max_tokens.value() - len(prefix))
        seed = self.last_seed if self.last_seed is not None else self.seed.value()
        config = column.sampling_config(max_new_tokens=left, seed=seed, stop=self._stop_strings())
        column.begin(column.prompt_text, prefix=prefix, marked=token_index)  # keeps prompt_ids
        dtype = self.generate_tab.dtype_value()
        self._submit([Job(column.index, key, ids, config, truncate=True, dtype=dtype)])
        return True

    def keep_reply(self, column_index: int) -> bool:
        """Chat: the typed message and that column's answer join the conversation."""
        if not 0 <= column_index < len(self.columns) or not self._book.idle:
            return False
        column = self.columns[column_index]
        if column.result is None or not column.text:
            self.context.show_status(f"column {column_index + 1} has no reply to keep")
            return False
        self.chat.add_typed()
        self.chat.add_message("assistant", column.text)
        return True

    def _submit(self, jobs: list[Job]) -> None:
        run = self._book.begin("generating", (job.column for job in jobs))
        self._runner.submit(run_jobs, jobs, self._models, self._bridge, run)
        self._timer.start()
        self._update_buttons()

    def stop(self) -> None:
        """Stop generating now; what has been shown stays."""
        if self._book.idle:
            return
        self._runner.cancel()
        self._book.drop_current()  # anything still queued from the stopped run is dropped
        for column in self.columns:
            column.stop()
        self._finish_run()

    def _finish_run(self) -> None:
        was = self._book.end()
        self._draw()
        self._timer.stop()
        self._update_buttons()
        if was == "generating":
            self.sig_run_finished.emit()
        elif was == "scoring":
            self.sig_scored.emit()

    def _on_idle(self) -> None:
        if not self._book.idle:  # the worker ended without reporting every column (an error)
            for column in self.columns:
                if column.status in ("running", "waiting"):
                    column.fail("the generation ended unexpectedly")
            self._finish_run()

    def _column(self, run: int, index: int) -> GenerationColumn | None:
        if not self._book.is_current(run) or not 0 <= index < len(self.columns):
            return None
        return self.columns[index]

    def _on_started(self, run: int, index: int, info: object) -> None:
        column = self._column(run, index)
        if column is not None:
            prompt_ids, description, shown, note = info  # type: ignore[misc]
            column.started(prompt_ids, description, shown, note)

    def _on_token(self, run: int, index: int, token: object) -> None:
        column = self._column(run, index)
        if column is not None and column.status == "running":
            column.add_token(token)
            self.sig_token.emit(index, token)

    def _on_finished(self, run: int, index: int, result: object) -> None:
        column = self._column(run, index)
        if column is not None:
            column.finish(result)
            self._column_done(index)

    def _on_failed(self, run: int, index: int, message: str) -> None:
        if not self._book.is_current(run):
            return
        if self._book.mode == "scoring":
            if 0 <= index < len(self.score_columns):
                self.score_columns[index].show_error(message)
        else:
            column = self._column(run, index)
            if column is not None:
                column.fail(message)
        self.context.show_error(f"column {index + 1}: {message}")
        self._column_done(index)

    def _column_done(self, index: int) -> None:
        if self._book.column_done(index):
            self._finish_run()

    def _draw(self) -> None:
        for column in self.columns:
            column.draw()

    def _update_buttons(self) -> None:
        idle = self._book.idle
        self.run_button.setEnabled(idle)
        self.repeat_button.setEnabled(idle and self.last_seed is not None)
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
        run = self._book.begin("scoring", (index for index, _ in keys))
        self._runner.submit(
            score_jobs,
            text,
            keys,
            self._models,
            self._bridge,
            run,
            dtype=self.generate_tab.dtype_value(),
        )
        self._update_buttons()
        return True

    def _on_scored(self, run: int, index: int, payload: object) -> None:
        if not self._book.is_current(run) or not 0 <= index < len(self.score_columns):
            return
        name, score = payload  # type: ignore[misc]
        self.score_columns[index].show_score(f"{index + 1}: {name}", score)
        self._column_done(index)

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
        self.tabs.setCurrentIndex(0)

    # ------------------------------------------------------------ closing

    def is_busy(self) -> bool:
        """Generating or scoring right now."""
        return not self._book.idle

    def shutdown(self) -> None:
        self._timer.stop()
        self._measure_timer.stop()
        self._runner.shutdown()
        self._models_runner.shutdown()
        self._measure_runner.shutdown()
        for column in self.columns:
            column.popup.hide()
