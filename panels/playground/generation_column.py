"""One generation column: a model and its samplers, the streamed tokens, their details and speed."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from panels.playground.alternatives_popup import AlternativesPopup
from panels.playground.colors import probability_color
from panels.playground.sampler_controls import SamplerControls
from panels.playground.token_text import error_html, html, percent, rate, shown
from panels.playground.token_view import TokenView

BROWSE = "__browse__"  # the model list's "Browse..." entry


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
        self.sampler = SamplerControls()
        layout.addWidget(self.sampler)

        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #a05a00;")
        self.note.setVisible(False)
        layout.addWidget(self.note)
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
        return self.sampler.sampling_config(max_new_tokens=max_new_tokens, seed=seed, stop=stop)

    def set_sampling(self, **settings: Any) -> None:
        """greedy, temperature, top_k, top_p, penalty (see :class:`SamplerControls`)."""
        self.sampler.set_sampling(**settings)

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
        self.set_note("")
        self.stats.setText("waiting\u2026")

    def started(
        self,
        prompt_ids: list[int] | None,
        description: str,
        shown: str | None = None,
        note: str = "",
    ) -> None:
        """The model read the prompt: ``shown`` replaces the prompt text (a rendered chat);
        ``note`` says how much of a long prompt was dropped."""
        if prompt_ids is not None and self.prompt_ids is None:
            self.prompt_ids = list(prompt_ids)
        if shown is not None and not self._prompt_drawn:
            self.prompt_text = shown
        self.set_note(note)
        self.status = "running"
        self.stats.setText(f"running · {description}")

    def set_note(self, note: str) -> None:
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def add_token(self, token: Any) -> None:
        self.tokens.append(token)

    def finish(self, result: Any) -> None:
        self.result = result
        if getattr(result, "note", ""):
            self.set_note(result.note)
        if result.prompt_ids is not None and not self.marked:
            self.prompt_ids = list(result.prompt_ids)
        self.status = "done"
        self.draw()
        cfg = result.config
        mode = "greedy" if cfg["greedy"] or cfg["temperature"] == 0 else "sample"
        continued = f"continued after token {min(self.marked)} · " if self.marked else ""
        self.stats.setText(
            f"{continued}seed {result.seed} · {result.generated_tokens} new tokens · "
            f"{rate(result.tokens_per_s)} · first token {result.time_to_first_token_s * 1000:.0f} ms"
            f" · ended by {result.finish_reason} · {mode}"
        )

    def stop(self) -> None:
        if self.status not in ("running", "waiting"):
            return
        self.status = "stopped"
        self.draw()
        times = [t.time_s for t in self.tokens if getattr(t, "time_s", None) is not None]
        speed = (
            (len(times) - 1) / (times[-1] - times[0])
            if len(times) > 1 and times[-1] > times[0]
            else math.nan
        )
        self.stats.setText(f"stopped · {len(self.tokens)} tokens · {rate(speed)}")

    def fail(self, message: str) -> None:
        self.status = "failed"
        self.stats.setText("failed")
        self.details.setText(error_html(message))

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

    def continuation(
        self, token_index: int, alternative: Any
    ) -> tuple[list[Any], list[int]] | None:
        """The tokens kept when token ``token_index`` is replaced by ``alternative`` (it last),
        and the token ids to generate on from; None when there is nothing to continue."""
        from backends.text.results import GeneratedToken

        if self.prompt_ids is None or token_index >= len(self.tokens):
            return None
        kept = self.tokens[:token_index]
        replaced = self.tokens[token_index]
        chosen = GeneratedToken(
            index=token_index,
            token_id=alternative.token_id,
            text=alternative.text,
            logprob_raw=math.log(max(alternative.prob_raw, 1e-300)),
            logprob=math.log(alternative.prob) if alternative.prob > 0 else float("-inf"),
            entropy_bits=replaced.entropy_bits,
            alternatives=replaced.alternatives,
            time_s=math.nan,
        )
        ids = self.prompt_ids + [t.token_id for t in kept] + [alternative.token_id]
        return kept + [chosen], ids

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)

    # ------------------------------------------------------------ token details

    def describe_token(self, index: int) -> str:
        token = self.tokens[index]
        alts = ", ".join(
            f"{html(shown(a.text))} {percent(a.prob_raw)}\u2192{percent(a.prob)}"
            for a in token.alternatives
        )
        return (
            f"<b>{html(shown(token.text))}</b> p {percent(token.prob_raw)} "
            f"(after samplers {percent(token.prob)}) · <small>{alts}</small>"
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
