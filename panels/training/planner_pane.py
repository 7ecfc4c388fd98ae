"""The launcher's planner pane: per-rank memory by part, traffic and "does it fit", per strategy.

The pane shows one column per strategy for the config in the form: what
each rank holds (parameters, gradients, optimizer state, activations, FSDP's
transient unsharded units), the bytes each rank sends per step and how long
that takes over a chosen link, and whether the busiest rank fits on the
detected GPU (or a GPU picked from the table; on a CPU-only machine it says
so rather than guess). The plan is computed by ``backends.plan`` on the
pane's own task slot, never on the GUI thread; the newest form contents win.

The form's ``batch_size`` is the global batch, so each column plans the
micro-batch that strategy would really run (``tp`` keeps the whole batch on
every rank, ``ddp`` splits it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.tasks import TaskRunner

STRATEGIES = ("single", "ddp", "fsdp", "fsdp_grad_op", "tp", "fsdp_tp")
# (row label, key in the plan's row, shown only when some column has it)
MEMORY_ROWS = (
    ("Parameters", "params", False),
    ("Gradients", "grads", False),
    ("Optimizer state", "optimizer", False),
    ("fp32 master weights", "master", True),
    ("DDP gradient buckets", "buffers", True),
    ("Activations", "activations", False),
    ("Transient (gathers, recompute)", "transient", False),
    ("Total per rank", "total", False),
)
NO_GPU = "This machine: CPU only (no GPU detected)"
DEFAULT_LINK = "pcie4"
CHOSEN_BACKGROUND = QColor(47, 101, 202, 40)


@dataclass
class PlannerResult:
    """What the pane shows: per-strategy numbers (or why a strategy cannot run) and notes."""

    world_size: int
    chosen: str
    columns: dict[str, dict[str, Any]]  # strategy -> strategy_table row, or {"error": text}
    device: str  # what "fits" was judged against, in words
    judged: bool  # False: no GPU to judge against
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""  # the whole config cannot be planned (bad model size...)


def format_bytes(value: float) -> str:
    """Binary units a person reads at a glance: ``1.84 MiB``."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:.3g} {unit}" if value / size < 100 else \
                f"{value / size:.0f} {unit}"
    return f"{value:.0f} B"


def format_seconds(value: float) -> str:
    if value <= 0:
        return "0"
    if value < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def _count(value: float) -> str:
    for suffix, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {suffix}"
    return f"{value:.0f}"


def plan_for_form(values: Mapping[str, Any], gpu_name: str | None = None,
                  link: str = DEFAULT_LINK) -> PlannerResult:
    """The planner's table for the form's values (runs on a worker: may import torch).

    ``gpu_name`` is a device name (detected, or a key of the GPU table); None
    judges nothing. With one process the multi-rank columns use two ranks.
    """
    from backends.plan import GPUS, PlanError, match_gpu, plan_from_train_config, strategy_table

    config = dict(values)
    try:
        nproc, nnodes = int(config.get("nproc", 1)), int(config.get("nnodes", 1))
    except (TypeError, ValueError):
        nproc, nnodes = 1, 1
    world = max(1, nproc) * max(1, nnodes)
    chosen = str(config.get("strategy", "single"))
    gpu = None
    if gpu_name:
        gpu = GPUS.get(gpu_name) or match_gpu(gpu_name)
    device = NO_GPU if not gpu_name else (
        f"{gpu_name}" if gpu is None or gpu.name == gpu_name else f"{gpu_name} ({gpu.name})")
    notes: list[str] = []
    if gpu_name and gpu is None:
        notes.append(f"{gpu_name} is not in the GPU table: fits is not judged")
    plans: dict[str, Any] = {}
    for strategy in STRATEGIES:
        one = {**config, "strategy": strategy}
        if strategy == "single":
            one.update(nproc=1, nnodes=1)
        elif world == 1:
            one.update(nproc=2, nnodes=1)
        if strategy == "fsdp_tp" and not int(one.get("tp", 0) or 0):
            one["tp"] = 2
        try:
            plans[strategy] = plan_from_train_config(one, gpu=gpu, link=link)
        except (PlanError, ValueError, TypeError) as exc:
            plans[strategy] = str(exc)
    errors = [p for p in plans.values() if isinstance(p, str)]
    if len(errors) == len(plans):
        return PlannerResult(world, chosen, {}, device, gpu is not None,
                             error=f"cannot plan this config: {errors[0]}")
    columns = {row["strategy"]: row for row in strategy_table(plans)}
    plan = plans.get(chosen)
    if not isinstance(plan, str) and plan is not None:
        summary = _summary(plan, config)
        notes.extend(plan.notes)
    else:
        plan = next(p for p in plans.values() if not isinstance(p, str))
        summary = _summary(plan, config)
    if world == 1:
        notes.insert(0, "one process in the form: the multi-rank columns plan 2 ranks")
    return PlannerResult(world, chosen, columns, device, gpu is not None, summary, notes)


def _summary(plan: Any, config: Mapping[str, Any]) -> str:
    """One line about the model and its compute: size, weights, FLOPs, tokens vs Chinchilla."""
    lay = plan.layout
    weights = plan.as_dict()["weights_bytes"]
    text = (f"{lay.kind}: {_count(lay.params)} parameters "
            f"({_count(lay.non_embedding_params)} non-embedding); weights "
            f"{format_bytes(weights['fp32'])} fp32, {format_bytes(weights['bf16'])} bf16")
    if lay.gpt is not None:
        compute = plan.compute
        try:
            tokens = int(config.get("steps", 0)) * int(config.get("batch_size", 0)) \
                * lay.gpt.block_size
        except (TypeError, ValueError):
            tokens = 0
        text += (f". {compute['flops_per_token']:.3g} FLOPs per token; this config trains on "
                 f"{_count(tokens)} tokens, compute-optimal for this size is about "
                 f"{_count(compute['chinchilla_tokens'])} (20 per parameter)")
    return text


class PlannerPane(QWidget):
    """The planner table for the launcher's form; see the module docstring.

    Signals
    -------
    sig_planned(object)   a new :class:`PlannerResult` is shown
    """

    sig_planned = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._values: dict[str, Any] | None = None
        self.result: PlannerResult | None = None
        self._detected: list[str] = []

        self.device_box = QComboBox()
        self.device_box.setObjectName("planner_device")
        self.device_box.setToolTip("The GPU the 'fits' row judges against (90 % of its memory)")
        self.device_box.currentIndexChanged.connect(lambda _i: self._replan())
        self.link_box = QComboBox()
        self.link_box.setObjectName("planner_link")
        self.link_box.setToolTip("The link between ranks, for the time communication takes")
        self.link_box.currentIndexChanged.connect(lambda _i: self._replan())
        from backends.plan.comms import LINKS  # plain dicts: cheap to import

        for key, (label, _bandwidth) in LINKS.items():
            self.link_box.addItem(label, key)
        self.link_box.setCurrentIndex(self.link_box.findData(DEFAULT_LINK))
        self.set_detected_gpus([])

        self.table = QTableWidget()
        self.table.setObjectName("planner_table")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.heading = QLabel("<b>Planner</b>")
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("planner_summary")
        self.summary_label.setWordWrap(True)
        self.notes_label = QLabel("")
        self.notes_label.setObjectName("planner_notes")
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #666;")

        options = QHBoxLayout()
        options.addWidget(self.heading)
        options.addStretch(1)
        options.addWidget(QLabel("Judge fit on"))
        options.addWidget(self.device_box, 2)
        options.addWidget(QLabel("Link"))
        options.addWidget(self.link_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(options)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes_label)
        layout.addStretch(1)

    # ------------------------------------------------------------ inputs

    def set_detected_gpus(self, names: list[str]) -> None:
        """Offer the detected GPU first (or say the machine has none), then the GPU table."""
        from backends.plan.compute import GPUS

        self._detected = list(names)
        self.device_box.blockSignals(True)
        self.device_box.clear()
        if names:
            label = names[0] if len(set(names)) == 1 else ", ".join(sorted(set(names)))
            self.device_box.addItem(f"This machine: {len(names)} × {label}", names[0])
        else:
            self.device_box.addItem(NO_GPU, "")
        for name in GPUS:
            self.device_box.addItem(name, name)
        self.device_box.setCurrentIndex(0)
        self.device_box.blockSignals(False)
        self._replan()

    def request(self, values: Mapping[str, Any]) -> None:
        """Plan these form values (on the worker; a newer request supersedes this one)."""
        self._values = dict(values)
        self._replan()

    def _replan(self) -> None:
        if self._values is None:
            return
        self._runner.submit(
            plan_for_form, self._values, self.device_box.currentData() or None,
            self.link_box.currentData() or DEFAULT_LINK,
            on_done=self.show_result,
            on_error=lambda exc, _details: self.show_result(PlannerResult(
                1, "", {}, "", False, error=f"cannot plan this config: {exc}")),
            supersede=True,
        )

    def is_busy(self) -> bool:
        return self._runner.is_busy()

    # ------------------------------------------------------------ table

    def show_result(self, result: PlannerResult) -> None:
        self.result = result
        if result.error:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.summary_label.setText(result.error)
            self.summary_label.setStyleSheet("color: #c0392b;")
            self.notes_label.setText("")
            self.sig_planned.emit(result)
            return
        self.summary_label.setStyleSheet("")
        self.summary_label.setText(result.summary)
        columns = [s for s in STRATEGIES if s in result.columns]
        rows = [(label, key) for label, key, optional in MEMORY_ROWS
                if not optional or any(result.columns[s].get(key) for s in columns)]
        link = self.link_box.currentText()
        extra = [("Communication per step", "comm_bytes_per_step"),
                 (f"… over {link}", "comm_seconds_per_step"),
                 (f"Fits on {self._device_short(result)}", "fits")]
        all_rows = rows + extra
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setRowCount(len(all_rows))
        self.table.setVerticalHeaderLabels([label for label, _ in all_rows])
        for c, strategy in enumerate(columns):
            ranks = result.columns[strategy].get("world_size")
            head = strategy if ranks is None else f"{strategy}\n× {ranks}"
            header = QTableWidgetItem(head)
            if strategy == result.chosen:
                font = header.font()
                font.setBold(True)
                header.setFont(font)
                header.setToolTip("the strategy chosen in the form")
            self.table.setHorizontalHeaderItem(c, header)
            column = result.columns[strategy]
            for r, (_label, key) in enumerate(all_rows):
                item = self._cell(column, key, result)
                if strategy == result.chosen:
                    item.setBackground(QBrush(CHOSEN_BACKGROUND))
                if key == "total":
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self._fit_table_height()
        problems = [f"{s}: {result.columns[s]['error']}" for s in columns
                    if "error" in result.columns[s]]
        self.notes_label.setText("\n".join([*result.notes, *problems]))
        # No taller than its content, so a splitter gives the rest to the plots below.
        self.setMaximumHeight(self.layout().minimumSize().height() + 8)
        self.sig_planned.emit(result)

    def _fit_table_height(self) -> None:
        # As tall as its rows: the space below goes to the plots, not to an empty table.
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(height + 2)

    def _device_short(self, result: PlannerResult) -> str:
        if not result.judged:
            return "GPU" if result.device == NO_GPU else result.device
        return str(self.device_box.currentData() or result.device)

    def _cell(self, column: Mapping[str, Any], key: str, result: PlannerResult) -> QTableWidgetItem:
        if "error" in column:
            item = QTableWidgetItem("—" if key != "fits" else "cannot run")
            item.setToolTip(str(column["error"]))
            item.setForeground(QBrush(QColor("#888")))
        elif key == "fits":
            fits = column.get("fits")
            if fits is None:
                text = "CPU only: no GPU" if result.device == NO_GPU else "not judged"
                item = QTableWidgetItem(text)
                item.setToolTip(f"{result.device}: pick a GPU above to judge the fit")
            else:
                item = QTableWidgetItem("yes" if fits else "NO")
                item.setForeground(QBrush(QColor("#2a7d2a" if fits else "#c0392b")))
        elif key.startswith("comm") and not column.get(key):
            item = QTableWidgetItem("none")  # one rank: nothing to send
        elif key == "comm_seconds_per_step":
            item = QTableWidgetItem(format_seconds(float(column.get(key, 0.0))))
        else:
            item = QTableWidgetItem(format_bytes(float(column.get(key, 0))))
            item.setData(Qt.ItemDataRole.UserRole, column.get(key))
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    # ------------------------------------------------------------ for tests and exports

    def cell_text(self, row_label: str, strategy: str) -> str:
        """The text shown in a row (by its label's start) and a strategy's column."""
        col = self._column(strategy)
        for r in range(self.table.rowCount()):
            if self.table.verticalHeaderItem(r).text().startswith(row_label):
                return self.table.item(r, col).text()
        raise KeyError(row_label)

    def _column(self, strategy: str) -> int:
        for c in range(self.table.columnCount()):
            if self.table.horizontalHeaderItem(c).text().split("\n")[0] == strategy:
                return c
        raise KeyError(strategy)
