"""The text playground: stream generations side by side, see token probabilities, score texts.

Three tabs:

- **Generate**: one prompt, two or more columns (each a model plus sampling
  settings), "Run all" with the same seed. Tokens stream in on a worker and
  are coloured by the model's probability; hovering a token shows its
  alternatives, clicking opens them in a popup, and clicking an alternative
  continues the text from it. Each column reports tokens/s, token count and
  time to first token.
- **Perplexity**: paste a text; every column's model scores it, coloured by
  surprise (bits), with total bits and perplexity.
- **Templates**: a zero-, one- or few-shot prompt builder (instruction,
  examples, query), saved and reloaded as TOML.

All model work goes through the panel's :class:`~workbench.tasks.TaskRunner`;
tokens reach the GUI thread through queued signals and are drawn by a timer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QLinearGradient,
    QPainter,
    QPixmap,
    QTextCharFormat,
    QTextCursor,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.context import AppContext

BROWSE = "__browse__"
MAX_CACHED_MODELS = 4
DRAW_INTERVAL_MS = 33  # the token views redraw at most ~30 times a second
MAX_BITS = 10.0  # surprise at which the perplexity colour saturates
DEFAULT_COLUMNS = 2


# ---------------------------------------------------------------- colours


def probability_color(p: float) -> QColor:
    """Background for a token of probability ``p``: red (unlikely) through amber to green."""
    p = 0.0 if not math.isfinite(p) else min(1.0, max(0.0, p))
    hue = 120.0 * p  # 0 = red, 60 = yellow, 120 = green
    return QColor.fromHsvF(hue / 360.0, 0.45, 1.0)


def surprise_color(bits: float) -> QColor:
    """Background for a token that cost ``bits``: green (expected) to red (surprising)."""
    return probability_color(1.0 - min(1.0, max(0.0, bits / MAX_BITS)))


def legend_pixmap(width: int = 140, height: int = 12, reverse: bool = False) -> QPixmap:
    pixmap = QPixmap(width, height)
    painter = QPainter(pixmap)
    gradient = QLinearGradient(0, 0, width, 0)
    for i in range(11):
        p = i / 10
        gradient.setColorAt(p, probability_color(1 - p if reverse else p))
    painter.fillRect(0, 0, width, height, QBrush(gradient))
    painter.end()
    return pixmap


def _shown(text: str) -> str:
    """A token's text as it reads in a list: whitespace made visible, nothing left blank."""
    if not text:
        return "\u2205"  # a token whose character is completed by the next one
    return text.replace(" ", "\u2423").replace("\n", "\u21b5").replace("\t", "\u21e5")


def _percent(p: float) -> str:
    if p <= 0:
        return "0 %"
    if p < 0.001:
        return "<0.1 %"
    return f"{100 * p:.1f} %"


# ---------------------------------------------------------------- token view


class TokenView(QTextBrowser):
    """Text made of clickable tokens, each on a coloured background.

    Signals
    -------
    sig_token_clicked(int, QPoint)  a token was clicked (index, global position)
    sig_token_hovered(int)          the mouse is over a token (index), -1 when it left
    """

    sig_token_clicked = Signal(int, QPoint)
    sig_token_hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        # Runs of spaces are drawn as no-break spaces (see add_token); a line may then
        # need to break inside such a run, so breaking anywhere is allowed as a fallback.
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self.highlighted.connect(self._on_highlighted)
        self.count = 0  # tokens drawn so far
        self._last_char = "\n"

    def clear_tokens(self) -> None:
        self.clear()
        self.count = 0
        self._last_char = "\n"

    def add_plain(self, text: str, color: str = "#777777") -> None:
        """Text that is not a token (the prompt), in grey."""
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(color))
        self._cursor_at_end().insertText(self._drawable(text), fmt)

    def add_token(self, text: str, background: QColor, *, marked: bool = False) -> int:
        """Append one token; returns its index. ``marked`` underlines it (chosen by hand)."""
        index = self.count
        fmt = QTextCharFormat()
        fmt.setAnchor(True)
        fmt.setAnchorHref(f"token:{index}")
        fmt.setBackground(background)
        fmt.setForeground(QColor("#111111"))
        if marked:
            fmt.setFontUnderline(True)
            fmt.setFontWeight(QFont.Weight.Bold)
        # A newline token gets a visible mark so it can be clicked like any other; a
        # token still waiting for the rest of its character shows as an ellipsis.
        shown = self._drawable(text).replace("\n", "\u21b5\n") if text else "\u2026"
        self._cursor_at_end().insertText(shown, fmt)
        self.count += 1
        return index

    def _drawable(self, text: str) -> str:
        """Spaces after a space become no-break spaces: Qt draws no trailing spaces at a line
        end, so a run of space tokens would otherwise be invisible and unclickable."""
        out = []
        for ch in text:
            out.append("\u00a0" if ch == " " and self._last_char in " \u00a0\n" else ch)
            self._last_char = out[-1]
        return "".join(out)

    def _cursor_at_end(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    @staticmethod
    def _index(url: QUrl) -> int:
        text = url.toString()
        if text.startswith("token:"):
            try:
                return int(text.split(":", 1)[1])
            except ValueError:
                return -1
        return -1

    def _on_anchor_clicked(self, url: QUrl) -> None:
        index = self._index(url)
        if index >= 0:
            from PySide6.QtGui import QCursor

            self.sig_token_clicked.emit(index, QCursor.pos())

    def _on_highlighted(self, url: QUrl) -> None:
        self.sig_token_hovered.emit(self._index(url) if not url.isEmpty() else -1)


# ---------------------------------------------------------------- alternatives popup


class AlternativesPopup(QFrame):
    """The top alternatives of one step, raw and after samplers; click one to continue from it.

    Signals
    -------
    sig_chosen(object)  an alternative (backends.generate.Alternative) was clicked
    """

    sig_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("alternativesPopup")
        self.setStyleSheet(
            "#alternativesPopup { background: palette(base); border: 1px solid palette(mid); }"
        )
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(3)
        self.buttons: list[QPushButton] = []

    def show_token(self, token: Any, at: QPoint | None = None) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.buttons = []
        title = QLabel(
            f"<b>{_html(_shown(token.text))}</b> &nbsp; p = {_percent(token.prob_raw)} "
            f"(after samplers {_percent(token.prob)}) · entropy {token.entropy_bits:.2f} bits"
        )
        self._layout.addWidget(title)
        header = QLabel(
            "<small>alternative &nbsp;·&nbsp; model p &nbsp;→&nbsp; after samplers"
            " &nbsp;·&nbsp; click to continue from it</small>"
        )
        self._layout.addWidget(header)
        for alt in token.alternatives:
            button = QPushButton(
                f"{_shown(alt.text):<8}  {_percent(alt.prob_raw):>8}  →  {_percent(alt.prob):>8}"
            )
            button.setFont(QFont("DejaVu Sans Mono"))
            button.setToolTip("continue the text from this token")
            stop = max(0.001, min(0.999, alt.prob_raw))
            chosen = " font-weight: bold;" if alt.token_id == token.token_id else ""
            button.setStyleSheet(
                "QPushButton { text-align: left; padding: 3px 6px; color: #111;"
                f"{chosen} border: 1px solid #bbb; background: qlineargradient(x1:0, y1:0, x2:1,"
                f" y2:0, stop:0 {probability_color(alt.prob_raw).name()}, stop:{stop:.3f} "
                f"{probability_color(alt.prob_raw).name()}, stop:{min(1.0, stop + 0.001):.3f} "
                "#f4f4f4, stop:1 #f4f4f4); }"
            )
            button.clicked.connect(lambda _=False, a=alt: self._choose(a))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.adjustSize()
        if at is not None:
            self.move(at + QPoint(8, 12))
        self.show()

    def _choose(self, alternative: Any) -> None:
        self.hide()
        self.sig_chosen.emit(alternative)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- worker side


class _Bridge(QObject):
    """Signals the worker emits; queued onto the GUI thread, where the panel lives."""

    sig_started = Signal(int, int, object)  # run, column, (prompt ids, model description)
    sig_token = Signal(int, int, object)  # run, column, GeneratedToken
    sig_finished = Signal(int, int, object)  # run, column, GenerationResult
    sig_failed = Signal(int, int, str)  # run, column, message
    sig_scored = Signal(int, int, object)  # run, column, TextScore


@dataclass
class _Job:
    column: int
    model_key: str
    prompt: Any  # text, or token ids when continuing
    config: Any  # SamplingConfig
    truncate: bool = False


class _ModelCache:
    """Loaded models by key; touched only from the worker (one task runs at a time)."""

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        from backends.text_models import load_text_model

        if key not in self._models:
            if len(self._models) >= MAX_CACHED_MODELS:
                self._models.pop(next(iter(self._models)))
            self._models[key] = load_text_model(key)
        model = self._models.pop(key)
        self._models[key] = model  # most recently used last
        return model


def _run_jobs(
    jobs: list[_Job], models: _ModelCache, bridge: _Bridge, run: int, progress=None
) -> None:
    """Generate each column in turn (one at a time, so their speeds are comparable)."""
    from backends.generate import GenerationError, generate, suggested_threads

    for n, job in enumerate(jobs):

        def column_progress(fraction: float, n: int = n) -> None:
            if progress is not None:
                progress((n + fraction) / len(jobs))

        try:
            loaded = models.get(job.model_key)
            prompt_ids = job.prompt if not isinstance(job.prompt, str) else None
            bridge.sig_started.emit(run, job.column, (prompt_ids, loaded.describe()))
            result = generate(
                loaded.model,
                loaded.tokenizer,
                job.prompt,
                job.config,
                on_token=lambda token, c=job.column: bridge.sig_token.emit(run, c, token),
                progress=column_progress,
                truncate_prompt=job.truncate,
                threads=suggested_threads(loaded.model),
            )
        except GenerationError as exc:
            bridge.sig_failed.emit(run, job.column, str(exc))
            continue
        bridge.sig_finished.emit(run, job.column, result)


def _score_jobs(
    text: str,
    keys: list[tuple[int, str]],
    models: _ModelCache,
    bridge: _Bridge,
    run: int,
    progress=None,
) -> None:
    from backends.generate import GenerationError, score_text

    for n, (column, key) in enumerate(keys):
        try:
            loaded = models.get(key)
            score = score_text(loaded.model, loaded.tokenizer, text)
        except GenerationError as exc:
            bridge.sig_failed.emit(run, column, str(exc))
            continue
        bridge.sig_scored.emit(run, column, (loaded.name, score))
        if progress is not None:
            progress((n + 1) / len(keys))


# ---------------------------------------------------------------- one column


class GenerationColumn(QFrame):
    """A model plus sampling settings, its streamed text, and its speed.

    Signals
    -------
    sig_continue(int, int, object)  continue column (index) after token (index) with an alternative
    sig_remove(int)                 the user asked to remove this column
    sig_browse(int)                 the user picked "Browse..." in the model list
    """

    sig_continue = Signal(int, int, object)
    sig_remove = Signal(int)
    sig_browse = Signal(int)

    def __init__(self, index: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.tokens: list[Any] = []  # GeneratedToken, as shown (prefix included)
        self.prompt_ids: list[int] | None = None
        self.prompt_text = ""
        self.result: Any = None
        self.status = "idle"  # idle, waiting, running, done, stopped, failed
        self.marked: set[int] = set()  # tokens chosen by hand (continue from alternative)
        self._drawn = 0
        self._prompt_drawn = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        top.addWidget(self.title)
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.activated.connect(self._on_model_activated)
        top.addWidget(self.model_combo, 1)
        self.remove_button = QToolButton()
        self.remove_button.setText("\u2715")
        self.remove_button.setToolTip("remove this column")
        self.remove_button.clicked.connect(lambda: self.sig_remove.emit(self.index))
        top.addWidget(self.remove_button)
        layout.addLayout(top)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        self.mode = QComboBox()
        self.mode.addItems(["sample", "greedy"])
        self.mode.setToolTip("greedy always takes the most likely token (temperature 0 does too)")
        self.temperature = _spin(0.0, 5.0, 1.0, 0.05, 2, "logits / temperature; 0 = greedy")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100000)
        self.top_k.setSpecialValueText("off")
        self.top_k.setToolTip("keep the k most likely tokens (and ties with the k-th); 0 = off")
        self.top_p = _spin(
            0.01,
            1.0,
            1.0,
            0.05,
            2,
            "keep the smallest set with this much "
            "probability (the token crossing it included); 1 = off",
        )
        self.penalty = _spin(
            0.1,
            5.0,
            1.0,
            0.05,
            2,
            "divide positive / multiply negative logits of tokens already present; 1 = off",
        )
        for col, (label, widget) in enumerate(
            [
                ("mode", self.mode),
                ("temp", self.temperature),
                ("top-k", self.top_k),
                ("top-p", self.top_p),
                ("rep. pen.", self.penalty),
            ]
        ):
            caption = QLabel(label)
            caption.setStyleSheet("color: palette(mid); font-size: 11px;")
            grid.addWidget(caption, 0, col)
            grid.addWidget(widget, 1, col)
        self.mode.currentTextChanged.connect(self._on_mode_changed)
        layout.addLayout(grid)

        self.view = TokenView()
        self.view.sig_token_hovered.connect(self._on_hover)
        self.view.sig_token_clicked.connect(self._on_click)
        layout.addWidget(self.view, 1)
        self.details = QLabel(" ")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setMinimumHeight(34)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.details)
        self.stats = QLabel("")
        self.stats.setStyleSheet("color: palette(dark);")
        self.stats.setWordWrap(True)  # a long line must not widen the column
        layout.addWidget(self.stats)
        self.popup = AlternativesPopup(self)
        self.popup.sig_chosen.connect(self._on_alternative)
        self._popup_token = -1
        self.set_index(index)

    # ------------------------------------------------------------ settings

    def set_index(self, index: int) -> None:
        self.index = index
        self.title.setText(f"{index + 1}")

    def model_key(self) -> str | None:
        key = self.model_combo.currentData()
        return key if key and key != BROWSE else None

    def set_model(self, key: str) -> None:
        i = self.model_combo.findData(key)
        if i >= 0:
            self.model_combo.setCurrentIndex(i)

    def set_model_choices(self, choices: list[tuple[str, str]]) -> None:
        """(label, key) pairs, then "Browse..."; keeps the current choice when it is still there."""
        current = self.model_key()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for label, key in choices:
            self.model_combo.addItem(label, key)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, key, Qt.ItemDataRole.ToolTipRole
            )
        self.model_combo.addItem("Browse\u2026", BROWSE)
        if current is not None:
            self.set_model(current)
        self.model_combo.blockSignals(False)

    def sampling_config(self, *, max_new_tokens: int, seed: int, stop: tuple[str, ...]) -> Any:
        from backends.generate import SamplingConfig

        return SamplingConfig(
            greedy=self.mode.currentText() == "greedy",
            temperature=round(self.temperature.value(), 4),
            top_k=self.top_k.value(),
            top_p=round(self.top_p.value(), 4),
            repetition_penalty=round(self.penalty.value(), 4),
            max_new_tokens=max_new_tokens,
            seed=seed,
            stop=stop,
        )

    def set_sampling(
        self, *, greedy=False, temperature=1.0, top_k=0, top_p=1.0, penalty=1.0
    ) -> None:
        self.mode.setCurrentText("greedy" if greedy else "sample")
        self.temperature.setValue(temperature)
        self.top_k.setValue(top_k)
        self.top_p.setValue(top_p)
        self.penalty.setValue(penalty)

    def _on_mode_changed(self, mode: str) -> None:
        sampling = mode == "sample"
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(sampling)

    def _on_model_activated(self, _index: int) -> None:
        if self.model_combo.currentData() == BROWSE:
            self.sig_browse.emit(self.index)

    # ------------------------------------------------------------ streaming

    def begin(
        self, prompt_text: str, prefix: list[Any] | None = None, marked: int | None = None
    ) -> None:
        """Clear the view for a new generation; ``prefix`` tokens are kept (continuing)."""
        self.tokens = list(prefix or [])
        self.marked = {marked} if marked is not None else set()
        self.prompt_text = prompt_text
        self.result = None
        self.status = "waiting"
        self.view.clear_tokens()
        self._drawn = 0
        self._prompt_drawn = False
        self.details.setText(" ")
        self.stats.setText("waiting\u2026")

    def started(self, prompt_ids: list[int] | None, description: str) -> None:
        if prompt_ids is not None and self.prompt_ids is None:
            self.prompt_ids = list(prompt_ids)
        self.status = "running"
        self.stats.setText(f"running · {description}")

    def add_token(self, token: Any) -> None:
        self.tokens.append(token)

    def finish(self, result: Any) -> None:
        self.result = result
        if result.prompt_ids is not None and not self.marked:
            self.prompt_ids = list(result.prompt_ids)
        self.status = "done"
        self.draw()
        cfg = result.config
        mode = "greedy" if cfg["greedy"] or cfg["temperature"] == 0 else "sample"
        continued = f"continued after token {min(self.marked)} · " if self.marked else ""
        self.stats.setText(
            f"{continued}seed {result.seed} · {result.generated_tokens} new tokens · "
            f"{_rate(result.tokens_per_s)} · first token {result.time_to_first_token_s * 1000:.0f} ms"
            f" · ended by {result.finish_reason} · {mode}"
        )

    def stop(self) -> None:
        if self.status not in ("running", "waiting"):
            return
        self.status = "stopped"
        self.draw()
        times = [t.time_s for t in self.tokens if getattr(t, "time_s", None) is not None]
        rate = (
            (len(times) - 1) / (times[-1] - times[0])
            if len(times) > 1 and times[-1] > times[0]
            else math.nan
        )
        self.stats.setText(f"stopped · {len(self.tokens)} tokens · {_rate(rate)}")

    def fail(self, message: str) -> None:
        self.status = "failed"
        self.stats.setText("failed")
        self.details.setText(f"<span style='color:#b00020'>{_html(message)}</span>")

    def draw(self) -> None:
        """Draw the tokens that arrived since the last draw (called by the panel's timer)."""
        if not self._prompt_drawn and self.status in ("running", "done", "stopped"):
            self.view.add_plain(self.prompt_text)
            self._prompt_drawn = True
        if not self._prompt_drawn:
            return
        for i in range(self._drawn, len(self.tokens)):
            token = self.tokens[i]
            self.view.add_token(
                token.text, probability_color(token.prob_raw), marked=i in self.marked
            )
        self._drawn = len(self.tokens)
        if self.status == "running":
            self.view.ensureCursorVisible()

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)

    # ------------------------------------------------------------ token details

    def describe_token(self, index: int) -> str:
        token = self.tokens[index]
        alts = ", ".join(
            f"{_html(_shown(a.text))} {_percent(a.prob_raw)}\u2192{_percent(a.prob)}"
            for a in token.alternatives
        )
        return (
            f"<b>{_html(_shown(token.text))}</b> p {_percent(token.prob_raw)} "
            f"(after samplers {_percent(token.prob)}) · <small>{alts}</small>"
        )

    def _on_hover(self, index: int) -> None:
        if 0 <= index < len(self.tokens):
            self.details.setText(self.describe_token(index))

    def _on_click(self, index: int, at: QPoint) -> None:
        self.open_alternatives(index, at)

    def open_alternatives(self, index: int, at: QPoint | None = None) -> None:
        if not 0 <= index < len(self.tokens):
            return
        self._popup_token = index
        self.details.setText(self.describe_token(index))
        self.popup.show_token(self.tokens[index], at)

    def _on_alternative(self, alternative: Any) -> None:
        if self._popup_token >= 0:
            self.sig_continue.emit(self.index, self._popup_token, alternative)


def _rate(tokens_per_s: float) -> str:
    return f"{tokens_per_s:.1f} tokens/s" if math.isfinite(tokens_per_s) else "- tokens/s"


def _spin(
    low: float, high: float, value: float, step: float, decimals: int, tip: str
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


# ---------------------------------------------------------------- score column


class ScoreColumn(QFrame):
    """One model's surprise at a pasted text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        layout.addWidget(self.title)
        self.view = TokenView()
        self.view.sig_token_hovered.connect(self._on_hover)
        self.view.sig_token_clicked.connect(lambda i, _at: self._on_hover(i))
        layout.addWidget(self.view, 1)
        self.details = QLabel(" ")
        self.details.setWordWrap(True)
        layout.addWidget(self.details)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.score: Any = None

    def show_score(self, name: str, score: Any) -> None:
        self.score = score
        self.title.setText(name)
        self.view.clear_tokens()
        self.view.add_plain(score.first_text)
        for token in score.tokens:
            self.view.add_token(token.text, surprise_color(token.bits))
        self.summary.setText(
            f"{len(score.tokens)} tokens scored · {score.total_bits:.1f} bits in all · "
            f"{score.bits_per_token:.3f} bits/token · perplexity {score.perplexity:.3f}"
        )

    def show_error(self, message: str) -> None:
        self.view.clear_tokens()
        self.summary.setText("")
        self.details.setText(f"<span style='color:#b00020'>{_html(message)}</span>")

    def _on_hover(self, index: int) -> None:
        if self.score is not None and 0 <= index < len(self.score.tokens):
            token = self.score.tokens[index]
            self.details.setText(
                f"{_html(_shown(token.text))}: {token.bits:.2f} bits (p = {_percent(2**-token.bits)})"
            )


# ---------------------------------------------------------------- templates tab


class TemplateEditor(QWidget):
    """Build a zero-, one- or few-shot prompt; save and reload templates.

    Signals
    -------
    sig_use(str, str)  use this prompt (text) with this suggested stop string
    """

    sig_use = Signal(str, str)

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        layout = QHBoxLayout(self)
        form_box = QWidget()
        form = QFormLayout(form_box)
        row = QHBoxLayout()
        self.name = QLineEdit("my template")
        row.addWidget(self.name, 1)
        self.saved = QComboBox()
        self.saved.setMinimumContentsLength(14)
        self.saved.setPlaceholderText("saved templates")
        row.addWidget(self.saved)
        self.load_button = QPushButton("Load")
        self.load_button.clicked.connect(self.load_selected)
        row.addWidget(self.load_button)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.save_button)
        form.addRow("Name", row)
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText("What the model should do, e.g. 'Continue the verse.'")
        self.instruction.setMaximumHeight(70)
        form.addRow("Instruction", self.instruction)
        labels = QHBoxLayout()
        self.input_label = QLineEdit("Input:")
        self.output_label = QLineEdit("Output:")
        labels.addWidget(QLabel("input label"))
        labels.addWidget(self.input_label)
        labels.addWidget(QLabel("output label"))
        labels.addWidget(self.output_label)
        form.addRow("Labels", labels)
        self.examples = QTableWidget(0, 2)
        self.examples.setHorizontalHeaderLabels(["Example input", "Example output"])
        self.examples.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.examples.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        form.addRow("Examples", self.examples)
        buttons = QHBoxLayout()
        add = QPushButton("Add example")
        add.clicked.connect(lambda: self.add_example("", ""))
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_selected)
        self.shots = QSpinBox()
        self.shots.setRange(0, 0)
        self.shots.setToolTip("how many examples go into the prompt: 0 = zero-shot, 1 = one-shot")
        self.shots_label = QLabel()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("examples used"))
        buttons.addWidget(self.shots)
        buttons.addWidget(self.shots_label)
        form.addRow("", buttons)
        self.query = QLineEdit()
        self.query.setPlaceholderText("the new input the model should answer")
        form.addRow("Query", self.query)
        layout.addWidget(form_box, 3)

        right = QVBoxLayout()
        right.addWidget(QLabel("Prompt preview"))
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        right.addWidget(self.preview, 1)
        self.use_button = QPushButton("Use as prompt")
        self.use_button.clicked.connect(self._use)
        right.addWidget(self.use_button)
        layout.addLayout(right, 2)

        for signal in (self.instruction.textChanged, self.name.textChanged):
            signal.connect(self.update_preview)
        for edit in (self.input_label, self.output_label, self.query):
            edit.textChanged.connect(self.update_preview)
        self.examples.itemChanged.connect(self.update_preview)
        self.shots.valueChanged.connect(self.update_preview)
        self.refresh_saved()
        self.update_preview()

    def add_example(self, text_in: str, text_out: str) -> None:
        row = self.examples.rowCount()
        self.examples.blockSignals(True)
        self.examples.insertRow(row)
        self.examples.setItem(row, 0, QTableWidgetItem(text_in))
        self.examples.setItem(row, 1, QTableWidgetItem(text_out))
        self.examples.blockSignals(False)
        follow = self.shots.value() == self.shots.maximum()
        self.shots.setMaximum(self.examples.rowCount())
        if follow:
            self.shots.setValue(self.examples.rowCount())
        self.update_preview()

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.examples.selectedIndexes()}, reverse=True)
        for row in rows:
            self.examples.removeRow(row)
        self.shots.setMaximum(self.examples.rowCount())
        self.update_preview()

    def template(self) -> Any:
        from backends.templates import Example, PromptTemplate

        examples = []
        for row in range(self.examples.rowCount()):
            cells = [self.examples.item(row, c) for c in (0, 1)]
            texts = [c.text() if c is not None else "" for c in cells]
            if any(t.strip() for t in texts):
                examples.append(Example(input=texts[0], output=texts[1]))
        return PromptTemplate(
            name=self.name.text().strip() or "untitled",
            instruction=self.instruction.toPlainText(),
            examples=examples,
            query=self.query.text(),
            input_label=self.input_label.text(),
            output_label=self.output_label.text(),
            shots=self.shots.value(),
        )

    def set_template(self, template: Any) -> None:
        self.name.setText(template.name)
        self.instruction.setPlainText(template.instruction)
        self.input_label.setText(template.input_label)
        self.output_label.setText(template.output_label)
        self.query.setText(template.query)
        self.examples.setRowCount(0)
        self.shots.setMaximum(0)
        for example in template.examples:
            self.add_example(example.input, example.output)
        shots = len(template.examples) if template.shots is None else template.shots
        self.shots.setValue(min(shots, len(template.examples)))
        self.update_preview()

    def update_preview(self, *_args: object) -> None:
        template = self.template()
        n = len(template.used_examples())
        self.shots_label.setText("zero-shot" if n == 0 else "one-shot" if n == 1 else f"{n}-shot")
        self.examples.blockSignals(True)  # greying rows must not re-enter this method
        for row in range(self.examples.rowCount()):
            for col in (0, 1):
                item = self.examples.item(row, col)
                if item is not None:
                    used = row < self.shots.value()
                    item.setForeground(QColor("#111111" if used else "#9a9a9a"))
                    item.setToolTip("" if used else "not used: raise 'examples used' to include it")
        self.examples.blockSignals(False)
        self.preview.setPlainText(template.build())

    def refresh_saved(self) -> None:
        from backends.templates import list_templates

        self.saved.clear()
        for path in list_templates(self.folder):
            self.saved.addItem(path.stem, str(path))
        self.load_button.setEnabled(self.saved.count() > 0)

    def save(self) -> Path | None:
        from backends.templates import TemplateError, save_template

        try:
            path = save_template(self.template(), self.folder)
        except (TemplateError, OSError) as exc:
            self._error(str(exc))
            return None
        self.refresh_saved()
        self.saved.setCurrentIndex(self.saved.findData(str(path)))
        return path

    def load_selected(self) -> None:
        from backends.templates import TemplateError, load_template

        path = self.saved.currentData()
        if not path:
            return
        try:
            self.set_template(load_template(path))
        except TemplateError as exc:
            self._error(str(exc))

    def _error(self, message: str) -> None:
        self.window().setProperty("lastError", message)
        error = getattr(self, "on_error", None)
        if error is not None:
            error(message)

    def _use(self) -> None:
        template = self.template()
        self.sig_use.emit(template.build(), template.suggested_stop())


# ---------------------------------------------------------------- the panel


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
        self._bridge = _Bridge(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._bridge.sig_started.connect(self._on_started, queued)
        self._bridge.sig_token.connect(self._on_token, queued)
        self._bridge.sig_finished.connect(self._on_finished, queued)
        self._bridge.sig_failed.connect(self._on_failed, queued)
        self._bridge.sig_scored.connect(self._on_scored, queued)
        self._models = _ModelCache()
        self._run = 0
        self._mode = "idle"  # idle, generating, scoring
        self._pending_columns: set[int] = set()
        self._extra_models: list[str] = []
        self.last_seed: int | None = None
        self.columns: list[GenerationColumn] = []
        self.score_columns: list[ScoreColumn] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._build_generate_tab(), "Generate")
        self.tabs.addTab(self._build_score_tab(), "Perplexity")
        templates_dir = Path(context.settings.path).parent / "prompt-templates"
        self.templates = TemplateEditor(templates_dir)
        self.templates.on_error = context.show_error
        self.templates.sig_use.connect(self._use_template)
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

    # ------------------------------------------------------------ building

    def _build_generate_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type a prompt; every column continues it.")
        self.prompt.setPlainText("And God said,")
        self.prompt.setMaximumHeight(80)
        layout.addWidget(self.prompt)

        bar = QHBoxLayout()
        self.run_button = QPushButton("Run all")
        self.run_button.setToolTip("every column continues the prompt with the same seed")
        self.run_button.clicked.connect(self.run_all)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.repeat_button = QPushButton("Run again, same seed")
        self.repeat_button.setToolTip("repeat the last run exactly")
        self.repeat_button.clicked.connect(self.repeat)
        self.add_button = QPushButton("+ Column")
        self.add_button.clicked.connect(lambda: self.add_column())
        for button in (self.run_button, self.stop_button, self.repeat_button, self.add_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(QLabel("seed"))
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1234)
        bar.addWidget(self.seed)
        self.new_seed = QCheckBox("new seed each run")
        self.new_seed.setChecked(True)
        bar.addWidget(self.new_seed)
        bar.addStretch(1)
        layout.addLayout(bar)

        limits = QHBoxLayout()
        limits.addWidget(QLabel("max new tokens"))
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 100000)
        self.max_tokens.setValue(300)
        limits.addWidget(self.max_tokens)
        limits.addSpacing(12)
        limits.addWidget(QLabel("stop at"))
        self.stop_strings = QLineEdit()
        self.stop_strings.setPlaceholderText("e.g. \\n\\n | Amen")
        self.stop_strings.setToolTip(
            "stop strings, separated by |; \\n is a newline. "
            "They are cut from the text and never shown, even partly"
        )
        self.stop_strings.setMinimumWidth(80)
        limits.addWidget(self.stop_strings, 1)
        limits.addSpacing(12)
        limits.addWidget(QLabel("probability: low"))
        swatch = QLabel()
        swatch.setPixmap(legend_pixmap(100))
        swatch.setToolTip(
            "tokens are coloured by the model's probability; hover one for its alternatives, "
            "click to pick an alternative and continue from it"
        )
        limits.addWidget(swatch)
        limits.addWidget(QLabel("high"))
        layout.addLayout(limits)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        # Many columns scroll sideways rather than forcing the window wider.
        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setWidget(self.splitter)
        layout.addWidget(scroller, 1)
        return tab

    def _build_score_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        intro = QLabel(
            "Paste a text; each model chosen in the Generate columns scores it. "
            "Colour = surprise (bits) of each token given the text before it."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.score_text = QPlainTextEdit()
        self.score_text.setPlainText(
            "In the beginning God created the heaven and the earth.\n"
            "And the earth was without form, and void."
        )
        self.score_text.setMaximumHeight(90)
        layout.addWidget(self.score_text)
        bar = QHBoxLayout()
        self.score_button = QPushButton("Score with the columns' models")
        self.score_button.clicked.connect(self.score_all)
        bar.addWidget(self.score_button)
        bar.addWidget(QLabel("surprise: 0 bits"))
        swatch = QLabel()
        swatch.setPixmap(legend_pixmap(reverse=True))
        bar.addWidget(swatch)
        bar.addWidget(QLabel(f"{MAX_BITS:.0f}+ bits"))
        bar.addStretch(1)
        layout.addLayout(bar)
        self.score_splitter = QSplitter(Qt.Orientation.Horizontal)
        layout.addWidget(self.score_splitter, 1)
        return tab

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
        if len(self.columns) <= 1 or self._mode != "idle":
            return
        column = self.columns.pop(index)
        column.setParent(None)
        column.deleteLater()
        for i, col in enumerate(self.columns):
            col.set_index(i)
        self._update_buttons()

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, key) of every model on offer: demos, GPT runs, folders opened by hand."""
        from backends.text_models import demo_names

        choices = [(f"demo: {name}", name) for name in demo_names()]
        for run in self._gpt_runs():
            choices.append((f"run: {run.name}", str(run)))
        for path in self._extra_models:
            choices.append((Path(path).name, path))
        return choices

    def _gpt_runs(self) -> list[Path]:
        """Runs in the runs folder whose latest checkpoint is a GPT (meta.json read only)."""
        import json

        runs_dir = self.context.runs_dir
        found = []
        if not runs_dir.is_dir():
            return found
        for run in sorted(runs_dir.iterdir()):
            checkpoints = run / "checkpoints"
            if not checkpoints.is_dir():
                continue
            metas = sorted(checkpoints.glob("step_*/meta.json"))
            if not metas:
                continue
            try:
                if json.loads(metas[-1].read_text(encoding="utf-8")).get("model") == "gpt":
                    found.append(run)
            except (OSError, ValueError):
                continue
        return found

    def refresh_models(self) -> None:
        choices = self.model_choices()
        for column in self.columns:
            column.set_model_choices(choices)

    def add_model(self, path: str | Path) -> str:
        """Offer a checkpoint, run or GPT-2 folder in every column; returns its key."""
        key = str(path)
        if key not in self._extra_models:
            self._extra_models.append(key)
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

    # ------------------------------------------------------------ running

    def _stop_strings(self) -> tuple[str, ...]:
        raw = self.stop_strings.text()
        parts = [p.replace("\\n", "\n").replace("\\t", "\t") for p in raw.split("|")]
        return tuple(p for p in parts if p.strip(" ") or "\n" in p)

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
        from backends.generate import GenerationError

        prompt = self.prompt.toPlainText()
        jobs = []
        for column in self.columns:
            key = column.model_key()
            if key is None:
                self.context.show_error(
                    f"column {column.index + 1} has no model; pick one in its list"
                )
                return False
            config = column.sampling_config(
                max_new_tokens=self.max_tokens.value(), seed=seed, stop=self._stop_strings()
            )
            try:
                config.validate()
            except GenerationError as exc:
                self.context.show_error(f"column {column.index + 1}: {exc}")
                return False
            jobs.append(_Job(column.index, key, prompt, config))
        self.last_seed = seed
        for column in self.columns:
            column.prompt_ids = None
            column.begin(prompt)
        self._submit(jobs)
        return True

    def continue_from(self, column_index: int, token_index: int, alternative: Any) -> bool:
        """Replace token ``token_index`` of a column by ``alternative`` and generate on from it."""
        from backends.generate import GeneratedToken

        if self._mode != "idle":
            self.context.show_status("stop the running generation first")
            return False
        column = self.columns[column_index]
        key = column.model_key()
        if column.prompt_ids is None or key is None or token_index >= len(column.tokens):
            return False
        kept = column.tokens[:token_index]
        chosen = GeneratedToken(
            index=token_index,
            token_id=alternative.token_id,
            text=alternative.text,
            logprob_raw=math.log(max(alternative.prob_raw, 1e-300)),
            logprob=math.log(alternative.prob) if alternative.prob > 0 else float("-inf"),
            entropy_bits=column.tokens[token_index].entropy_bits,
            alternatives=column.tokens[token_index].alternatives,
            time_s=math.nan,
        )
        ids = column.prompt_ids + [t.token_id for t in kept] + [alternative.token_id]
        left = max(1, self.max_tokens.value() - len(kept) - 1)
        seed = self.last_seed if self.last_seed is not None else self.seed.value()
        config = column.sampling_config(max_new_tokens=left, seed=seed, stop=self._stop_strings())
        prompt_ids = column.prompt_ids
        column.begin(column.prompt_text, prefix=kept + [chosen], marked=token_index)
        column.prompt_ids = prompt_ids
        self._submit([_Job(column.index, key, ids, config, truncate=True)])
        return True

    def _submit(self, jobs: list[_Job]) -> None:
        self._run += 1
        self._mode = "generating"
        self._pending_columns = {job.column for job in jobs}
        self._runner.submit(_run_jobs, jobs, self._models, self._bridge, self._run)
        self._timer.start()
        self._update_buttons()

    def stop(self) -> None:
        """Stop generating now; what has been shown stays."""
        if self._mode == "idle":
            return
        self._runner.cancel()
        self._run += 1  # anything still queued from the stopped run is dropped
        for column in self.columns:
            column.stop()
        self._finish_run()

    def _finish_run(self) -> None:
        was = self._mode
        self._mode = "idle"
        self._pending_columns.clear()
        self._draw()
        self._timer.stop()
        self._update_buttons()
        if was == "generating":
            self.sig_run_finished.emit()
        elif was == "scoring":
            self.sig_scored.emit()

    def _on_idle(self) -> None:
        if self._mode != "idle":  # the worker ended without reporting every column (an error)
            for column in self.columns:
                if column.status in ("running", "waiting"):
                    column.fail("the generation ended unexpectedly")
            self._finish_run()

    def _column(self, run: int, index: int) -> GenerationColumn | None:
        if run != self._run or not 0 <= index < len(self.columns):
            return None
        return self.columns[index]

    def _on_started(self, run: int, index: int, info: object) -> None:
        column = self._column(run, index)
        if column is not None:
            prompt_ids, description = info  # type: ignore[misc]
            column.started(prompt_ids, description)

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
        if run != self._run:
            return
        if self._mode == "scoring":
            if 0 <= index < len(self.score_columns):
                self.score_columns[index].show_error(message)
        else:
            column = self._column(run, index)
            if column is not None:
                column.fail(message)
        self.context.show_error(f"column {index + 1}: {message}")
        self._column_done(index)

    def _column_done(self, index: int) -> None:
        self._pending_columns.discard(index)
        if not self._pending_columns:
            self._finish_run()

    def _draw(self) -> None:
        for column in self.columns:
            column.draw()

    def _update_buttons(self) -> None:
        idle = self._mode == "idle"
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
            key = column.model_key()
            if key is None:
                self.context.show_error(
                    f"column {column.index + 1} has no model; pick one in its list"
                )
                return False
            if key not in models:
                models.append(key)
        keys = list(enumerate(models))
        while len(self.score_columns) < len(keys):
            score_column = ScoreColumn()
            self.score_columns.append(score_column)
            self.score_splitter.addWidget(score_column)
        for i, score_column in enumerate(self.score_columns):
            score_column.setVisible(i < len(keys))
            score_column.score = None
            score_column.title.setText(f"{i + 1}: scoring\u2026")
        self._run += 1
        self._mode = "scoring"
        self._pending_columns = {index for index, _ in keys}
        self._runner.submit(_score_jobs, text, keys, self._models, self._bridge, self._run)
        self._update_buttons()
        return True

    def _on_scored(self, run: int, index: int, payload: object) -> None:
        if run != self._run or not 0 <= index < len(self.score_columns):
            return
        name, score = payload  # type: ignore[misc]
        self.score_columns[index].show_score(f"{index + 1}: {name}", score)
        self._column_done(index)

    # ------------------------------------------------------------ templates

    def _use_template(self, text: str, stop: str) -> None:
        self.prompt.setPlainText(text)
        self.stop_strings.setText(stop.replace("\n", "\\n"))
        self.tabs.setCurrentIndex(0)

    # ------------------------------------------------------------ closing

    def is_busy(self) -> bool:
        """Generating or scoring right now."""
        return self._mode != "idle"

    def shutdown(self) -> None:
        self._timer.stop()
        self._runner.shutdown()
        for column in self.columns:
            column.popup.hide()
