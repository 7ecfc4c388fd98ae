"""The monitor's Scaling tab: a scaling law fitted to the finished runs of the runs folder.

One point per finished run (its final validation loss, or the mean of its
last training losses, against its parameter count), the fit
``L(N) = E + A / N^alpha`` over the runs' sizes (solid) and ten times beyond
(dashed), its 95 % bootstrap band, and Kaplan et al.'s ``L(N)`` for
reference (dotted: another dataset and tokenizer, so compare slopes rather
than heights), on log axes. Below the plot the exponent and its bootstrap
interval in words. When the runs saw different token counts (five runs or
more) the fit includes the data term and the curve is drawn at their median
token count.

Reading runs and fitting (a thousand bootstrap refits) run on the view's own
task slot; the plot shows only what the newest request found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from panels.monitor.log_axis import ReadableLogAxis
from workbench.tasks import TaskRunner

EXTRAPOLATE = 10.0  # the fit is drawn this many times beyond the largest run
USES = (("non_embedding", "non-embedding parameters"), ("params", "all parameters"))
POINT_COLOR, FIT_COLOR, KAPLAN_COLOR = "#1f77b4", "#d62728", "#7f7f7f"
EMPTY_HINT = ("No finished runs yet: train a few model sizes (a size sweep in the Training "
              "panel) and their final losses are fitted here.")


@dataclass
class ScalingResult:
    """What the tab draws: points, fit curves and band, the reference, and the words."""

    use: str
    names: list[str] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    fit: dict[str, Any] | None = None  # PowerLawFit.as_dict()
    fitted: dict[str, list[float]] = field(default_factory=dict)  # n, loss over the runs' range
    extrapolated: dict[str, list[float]] = field(default_factory=dict)  # n, loss beyond it
    band: dict[str, list[float]] = field(default_factory=dict)  # n, low, high
    kaplan: dict[str, list[float]] = field(default_factory=dict)  # n, loss
    words: str = ""
    skipped: list[str] = field(default_factory=list)


def fit_runs_folder(runs_dir: Path, use: str = "non_embedding", bootstrap: int = 1000,
                    progress: Any = None) -> ScalingResult:
    """Read the finished runs of ``runs_dir`` and fit them (runs on a worker)."""
    from backends.plan import PlanError
    from backends.plan.scaling import (
        KAPLAN,
        comparable_points,
        curve,
        fit_runs,
        kaplan_loss_n,
        scaling_points,
    )

    skipped: list[str] = []
    points = scaling_points(runs_dir, on_skip=lambda run, why: skipped.append(f"{run}: {why}"))
    points, left_out = comparable_points(points)
    skipped += [f"{run}: {why}" for run, why in left_out]
    sizes = [float(p.non_embedding_params if use == "non_embedding" else p.params)
             for p in points]
    result = ScalingResult(use, [p.run for p in points], sizes, [p.loss for p in points],
                           skipped=skipped)
    what = dict(USES)[use]
    # Kaplan et al.'s curve is for language models' cross-entropy: only beside GPT runs.
    if sizes and points[0].model == "gpt":
        grid = np.geomspace(min(sizes) / 2, max(sizes) * EXTRAPOLATE, 60)
        result.kaplan = {"n": grid.tolist(), "loss": kaplan_loss_n(grid).tolist()}
    try:
        fit = fit_runs(points, use=use, bootstrap=bootstrap, progress=progress)
    except PlanError as exc:
        result.words = (f"No fit yet: {exc}. Found {len(points)} finished run(s) in "
                        f"{runs_dir}.")
        return result
    n_min, n_max = min(sizes), max(sizes)
    tokens = [p.tokens for p in points if p.tokens]
    d = float(np.median(tokens)) if fit.b is not None and tokens else None
    inside = curve(fit, n_min, n_max, points=60, d=d)
    beyond = curve(fit, n_max, n_max * EXTRAPOLATE, points=30, d=d)
    result.fit = fit.as_dict()
    result.fitted = {"n": inside["n"], "loss": inside["loss"]}
    result.extrapolated = {"n": beyond["n"], "loss": beyond["loss"]}
    if "low" in inside:
        whole = curve(fit, n_min, n_max * EXTRAPOLATE, points=90, d=d)
        result.band = {"n": whole["n"], "low": whole["low"], "high": whole["high"]}
    result.words = describe_fit(fit, len(points), what, KAPLAN["alpha_n"], d)
    if left_out:
        result.words += (f" Left out {len(left_out)} run(s) of another model kind or dataset "
                         f"({', '.join(run for run, _ in left_out)}): one law fits one kind of loss.")
    return result


def describe_fit(fit: Any, runs: int, what: str, kaplan_alpha: float,
                 tokens: float | None) -> str:
    """The fit in words: the exponent with its bootstrap interval, the floor, the reference."""
    interval = fit.intervals.get("alpha")
    around = (f" (95 % bootstrap interval {interval[0]:.3g} to {interval[1]:.3g})"
              if interval else " (no bootstrap interval)")
    text = (f"Loss falls as N^−{fit.alpha:.3g}{around} toward a floor of {fit.e:.3g}, "
            f"fitted to {runs} finished runs (N: {what}).")
    if fit.beta is not None:
        beta = fit.intervals.get("beta")
        text += (f" The runs saw different token counts, so the fit has a data term "
                 f"B / D^{fit.beta:.3g}" + (f" ({beta[0]:.3g} to {beta[1]:.3g})" if beta else "")
                 + f"; the curve is drawn at D = {tokens:.3g} tokens.")
    if interval and interval[1] - interval[0] > fit.alpha:
        text += " The interval is wide: more sizes, or longer runs, would pin the exponent."
    text += (f" Kaplan et al. (2020) found N^−{kaplan_alpha} for their models (dotted: other "
             "data and tokenizer, compare slopes rather than heights).")
    return text


class ScalingView(QWidget):
    """The Scaling tab; see the module docstring.

    Signals
    -------
    sig_updated(object)   a new :class:`ScalingResult` is drawn
    """

    sig_updated = Signal(object)
    BOOTSTRAP = 1000

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._runs_dir: Path | None = None
        self._key: Any = None
        self.result: ScalingResult | None = None

        self.use_box = QComboBox()
        self.use_box.setObjectName("scaling_use")
        for key, label in USES:
            self.use_box.addItem(label, key)
        self.use_box.currentIndexChanged.connect(lambda _i: self.refresh(force=True))
        self.refresh_button = QPushButton("Refit")
        self.refresh_button.clicked.connect(lambda: self.refresh(force=True))
        self.status = QLabel("")
        self.words = QLabel("Finished runs of several sizes appear here; launch a size sweep "
                            "from the Training panel.")
        self.words.setObjectName("scaling_words")
        self.words.setWordWrap(True)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self._labels: list[pg.TextItem] = []
        self.plot = self._build_plot()
        self._show_empty(True)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("N ="))
        controls.addWidget(self.use_box)
        controls.addWidget(self.refresh_button)
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.words)

    def _build_plot(self) -> pg.PlotWidget:
        """The log-log plot with its items: points, fit, extrapolation, band, reference, hint."""
        plot = pg.PlotWidget(
            title="Scaling law: final loss against model size",
            axisItems={"left": ReadableLogAxis(orientation="left"),
                       "bottom": ReadableLogAxis(orientation="bottom")},
        )
        plot.setObjectName("plot_scaling")
        item = plot.plotItem
        item.setLogMode(x=True, y=True)
        item.setLabel("bottom", "parameters (N)")
        item.setLabel("left", "loss")
        item.showGrid(x=True, y=True, alpha=0.2)  # a static plot: the grid costs nothing here
        item.addLegend(offset=(-10, 10), labelTextSize="8pt")
        faint = pg.mkColor(FIT_COLOR)
        faint.setAlpha(60)
        self.band_low = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
        # The band's edge carries its legend entry (a legend sample of the fill itself crashes
        # pyqtgraph 0.14's painter).
        self.band_high = pg.PlotDataItem(pen=pg.mkPen(faint, width=3), name="95 % bootstrap band")
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(faint))
        self.kaplan_item = pg.PlotDataItem(
            pen=pg.mkPen(KAPLAN_COLOR, width=1.5, style=Qt.PenStyle.DotLine),
            name="Kaplan et al. 2020")
        self.fit_item = pg.PlotDataItem(pen=pg.mkPen(FIT_COLOR, width=2), name="fit")
        self.extrapolation_item = pg.PlotDataItem(
            pen=pg.mkPen(FIT_COLOR, width=2, style=Qt.PenStyle.DashLine), name="extrapolated")
        self.points_item = pg.PlotDataItem(
            pen=None, symbol="o", symbolSize=9, symbolBrush=POINT_COLOR, symbolPen="w",
            name="finished runs")
        for thing in (self.band_low, self.band_high, self.band, self.kaplan_item, self.fit_item,
                      self.extrapolation_item, self.points_item):
            item.addItem(thing)
        # Until a finished run exists: what to do, in place of empty axes and a legend of nothing.
        hint_color = pg.mkColor(pg.getConfigOption("foreground"))
        hint_color.setAlpha(210)
        self.empty_hint = pg.TextItem(EMPTY_HINT, anchor=(0.5, 0.5), color=hint_color)
        self.empty_hint.setTextWidth(300)
        self.empty_hint.setParentItem(item.vb)
        item.vb.sigResized.connect(lambda *_: self.empty_hint.setPos(item.vb.boundingRect().center()))
        return plot

    # ------------------------------------------------------------ requests

    def refresh(self, runs_dir: Path | None = None, key: Any = None, force: bool = False) -> None:
        """Fit the runs folder again if its finished runs changed (``key``) or when forced."""
        if runs_dir is not None:
            self._runs_dir = Path(runs_dir)
        if self._runs_dir is None:
            return
        use = self.use_box.currentData()
        full_key = (self._runs_dir, use, key)
        if not force and full_key == self._key:
            return
        self._key = full_key
        self.status.setText("fitting…")
        self._runner.submit(
            fit_runs_folder, self._runs_dir, use, self.BOOTSTRAP, on_done=self.show_result,
            on_error=self._failed, supersede=True,
        )

    def _failed(self, exc: BaseException, _details: str) -> None:
        self.status.setText("")
        self.words.setText(f"Could not read the runs for a fit: {exc}")

    def is_busy(self) -> bool:
        return self._runner.is_busy()

    # ------------------------------------------------------------ drawing

    def is_empty(self) -> bool:
        """True while there is no finished run to draw (the hint shows instead of the axes)."""
        return self.empty_hint.isVisible()

    def _show_empty(self, empty: bool) -> None:
        item = self.plot.plotItem
        self.empty_hint.setVisible(empty)
        self.empty_hint.setPos(item.vb.boundingRect().center())
        item.legend.setVisible(not empty)
        for name in ("left", "bottom"):
            item.showAxis(name, not empty)

    def show_result(self, result: ScalingResult) -> None:
        self.result = result
        self.status.setText("" if not result.skipped else
                            f"{len(result.skipped)} run(s) skipped (hover for why)")
        self.status.setToolTip("\n".join(result.skipped))
        self.plot.plotItem.setLabel("bottom", f"N ({dict(USES)[result.use]})")
        self.points_item.setData(result.sizes, result.losses)
        self.kaplan_item.setData(result.kaplan.get("n", []), result.kaplan.get("loss", []))
        self.fit_item.setData(result.fitted.get("n", []), result.fitted.get("loss", []))
        self.extrapolation_item.setData(result.extrapolated.get("n", []),
                                        result.extrapolated.get("loss", []))
        self.band_low.setData(result.band.get("n", []), result.band.get("low", []))
        self.band_high.setData(result.band.get("n", []), result.band.get("high", []))
        # An empty fill still has bounds at (0, 0), which would stretch the log axes to 1.
        self.band.setVisible(bool(result.band))
        for label in self._labels:
            self.plot.plotItem.removeItem(label)
        self._labels = []
        for name, n, loss in zip(result.names, result.sizes, result.losses, strict=True):
            text = pg.TextItem(name, color="#999", anchor=(0, 1))
            text.setPos(np.log10(n), np.log10(loss))  # text is not log-transformed: place it
            self.plot.plotItem.addItem(text, ignoreBounds=True)
            self._labels.append(text)
        self.words.setText(result.words)
        self._show_empty(not result.sizes)
        self.plot.plotItem.enableAutoRange()
        self.sig_updated.emit(result)
