"""The main window: the five panels as dock widgets, menus, status bar, message bar.

Panels come from ``panels.PANELS``; a panel whose module is not in this build
is shown as a plain "not built yet" page. Geometry, dock layout and theme are
saved in the settings when the window closes and restored when it opens;
View → Reset layout brings back the layout the window was built with.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import partial
from pathlib import Path
from typing import cast

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QTabWidget,
    QToolBar,
    QWidget,
)

import workbench
from backends.devices import describe_compute
from backends.runs import RunDirError, open_run
from panels import PANELS, PanelSpec
from panels.not_built import NotBuiltPanel
from workbench.context import AppContext
from workbench.panel_contract import Panel
from workbench.tasks import TaskRunner
from workbench.theme import apply_theme

# Bump when the dock arrangement changes so an old saved layout is not restored onto it.
_LAYOUT_VERSION = 1


class MessageBar(QToolBar):
    """A closable strip under the menus that shows the latest error in words.

    Errors are shown here instead of in a modal dialog, so they never block
    the window (or a test) and can be read while the user fixes the cause.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Messages", parent)
        self.setObjectName("message_bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.label = QLabel()
        self.label.setObjectName("message_text")
        self.label.setWordWrap(True)
        # Span the window: a toolbar would otherwise squeeze the text into a narrow column.
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setStyleSheet("QLabel { color: #8a1f11; padding: 4px; }")
        self.setStyleSheet("QToolBar#message_bar { background: #fbe3e4; border: 0; }")
        self.addWidget(self.label)
        self.addAction("Dismiss", self.hide)
        self.toggleViewAction().setVisible(False)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class MainWindow(QMainWindow):
    """The workbench window.

    Signals
    -------
    sig_shown()   the window was shown for the first time (start-up timing)
    """

    sig_shown = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle(f"Workbench {workbench.__version__}")
        self.setObjectName("workbench_main_window")
        self.setDockOptions(
            QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AnimatedDocks
        )
        self.setTabPosition(Qt.DockWidgetArea.AllDockWidgetAreas, QTabWidget.TabPosition.North)
        self._shown_once = False
        self.message_bar = MessageBar(self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.message_bar)
        context._show_error = self.show_error
        context._show_status = self.show_status

        self.panels: dict[str, QWidget] = {}
        self.docks: dict[str, QDockWidget] = {}
        for spec in PANELS:
            self._add_panel(spec)
        first = self.docks[PANELS[0].name]
        for spec in PANELS[1:]:
            self.tabifyDockWidget(first, self.docks[spec.name])
        first.raise_()

        self._build_menus()
        self._build_status_bar()
        # Captured before the saved layout is restored: "Reset layout" returns here.
        self._default_state = self.saveState(_LAYOUT_VERSION)
        self.resize(1280, 800)
        self._restore_layout()
        for problem in context.settings.problems:
            self.show_error(problem)
        self._tasks = TaskRunner(self, name="window")
        self._tasks.submit(describe_compute, on_done=self._show_compute)

    # ------------------------------------------------------------ panels

    def _add_panel(self, spec: PanelSpec) -> None:
        widget = self._build_panel(spec)
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(f"dock_{spec.name}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.panels[spec.name] = widget
        self.docks[spec.name] = dock
        # A panel's status message belongs to it: leaving the panel clears it.
        dock.visibilityChanged.connect(
            lambda visible: None if visible else self.statusBar().clearMessage()
        )

    def _build_panel(self, spec: PanelSpec) -> QWidget:
        if importlib.util.find_spec(spec.module) is None:
            return NotBuiltPanel(spec.title, spec.purpose)
        try:
            module = importlib.import_module(spec.module)
            widget = getattr(module, spec.class_name)(self.context)
            if not isinstance(widget, QWidget) or not isinstance(widget, Panel):
                raise TypeError(f"{spec.class_name} is not a QWidget with shutdown(); "
                                "see workbench.panel_contract")
            return widget
        except Exception as exc:  # noqa: BLE001 - one broken panel must not take the window down
            self.show_error(f"The {spec.title} panel could not start: {exc}")
            return NotBuiltPanel(spec.title, f"{spec.purpose}<br><b>Failed to start:</b> {exc}")

    def show_panel(self, name: str) -> None:
        """Bring a panel's tab to the front."""
        if name not in self.docks:
            raise KeyError(f"unknown panel {name!r}; panels are: {', '.join(self.docks)}")
        self.docks[name].show()
        self.docks[name].raise_()

    def current_panel(self) -> str | None:
        """The panel whose tab is in front (visible and not hidden behind another)."""
        for name, dock in self.docks.items():
            if dock.isVisible() and not dock.visibleRegion().isEmpty():
                return name
        return None

    # ------------------------------------------------------------ menus

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.action_open_run = file_menu.addAction("Open &run…", self._ask_open_run)
        self.action_open_run.setShortcut(QKeySequence.StandardKey.Open)
        self.action_open_checkpoint = file_menu.addAction(
            "Open &checkpoint…", self._ask_open_checkpoint
        )
        file_menu.addSeparator()
        self.action_quit = file_menu.addAction("&Quit", self.close)
        self.action_quit.setShortcut(QKeySequence.StandardKey.Quit)

        view_menu = self.menuBar().addMenu("&View")
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name in ("light", "dark"):
            action = theme_menu.addAction(name.capitalize())
            action.setCheckable(True)
            action.triggered.connect(lambda _checked, n=name: self.set_theme(n))
            group.addAction(action)
            self.theme_actions[name] = action
        self.theme_actions[self.context.settings.theme].setChecked(True)
        view_menu.addSeparator()
        self.action_reset_layout = view_menu.addAction("&Reset layout", self.reset_layout)
        panels_menu = view_menu.addMenu("&Panels")
        for name, dock in self.docks.items():
            panels_menu.addAction(dock.windowTitle(), partial(self.show_panel, name))

        help_menu = self.menuBar().addMenu("&Help")
        self.action_about = help_menu.addAction("&About Workbench", self._about)
        self.action_version = help_menu.addAction(
            f"Version {workbench.__version__}",
            lambda: self.show_status(f"Workbench {workbench.__version__}"),
        )

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Workbench",
            f"<h3>Workbench {workbench.__version__}</h3>"
            "<p>Launch and watch multi-GPU training, explore latent spaces, compare text "
            "generation and evaluate models for fairness, from one desktop application.</p>"
            f"<p>Runs folder: {self.context.runs_dir}</p>",
        )

    def _ask_open_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run", str(self.context.runs_dir))
        if path:
            self.open_run_path(Path(path))

    def _ask_open_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open checkpoint", str(self.context.runs_dir),
            "Checkpoints (*.safetensors *.pt *.bin meta.json);;All files (*)",
        )
        if path:
            self.open_checkpoint_path(Path(path))

    def open_run_path(self, path: Path) -> bool:
        """Open a run folder: checked here, then announced to the panels.

        A folder of TensorBoard event files is a run too, and a folder holding
        such folders (a ``--logdir``) opens each of them.
        """
        from backends.tensorboard import find_runs, is_tensorboard_run

        logs = [path] if is_tensorboard_run(path) else (
            [s.path for s in find_runs(path)] if not (path / "config.toml").exists() else [])
        if logs:
            for log in logs:
                self.context.events.sig_run_opened.emit(log)
            self.show_status(f"Opened {len(logs)} TensorBoard log(s) in {path}")
            return True
        try:
            run = open_run(path)
        except RunDirError as exc:
            self.show_error(str(exc))
            return False
        from backends.launch import run_state

        status = run_state(run).status
        self.show_status(f"Opened run {run.name} ({status})")
        self.context.events.sig_run_opened.emit(run.path)
        return True

    def open_checkpoint_path(self, path: Path) -> bool:
        """Announce a checkpoint to the panels that can load one (they check its contents)."""
        if not path.exists():
            self.show_error(f"{path} does not exist: pick a checkpoint file or folder")
            return False
        self.show_status(f"Opened checkpoint {path}")
        self.context.events.sig_checkpoint_opened.emit(path)
        return True

    # ------------------------------------------------------------ theme and layout

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        self.theme_actions[name].setChecked(True)
        self.context.settings.theme = name

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()
        self.restoreState(self._default_state, _LAYOUT_VERSION)
        self.docks[PANELS[0].name].raise_()

    def _restore_layout(self) -> None:
        settings = self.context.settings
        geometry = settings.blob("window/geometry")
        if geometry is not None and not self.restoreGeometry(geometry):
            settings.problems.append("saved window geometry was unusable; using the default")
        state = settings.blob("window/state")
        if state is not None and not self.restoreState(state, _LAYOUT_VERSION):
            settings.remove("window/state")
        # The saved state remembers whether the message bar was showing; its message is
        # not saved, so it would come back as an empty bar. Messages are of one session.
        self.message_bar.hide()

    def _save_layout(self) -> None:
        settings = self.context.settings
        settings.set("window/geometry", self.saveGeometry())
        settings.set("window/state", self.saveState(_LAYOUT_VERSION))
        settings.sync()

    # ------------------------------------------------------------ status and messages

    def _build_status_bar(self) -> None:
        self.compute_label = QLabel("Looking for GPUs…")
        self.compute_label.setObjectName("compute_label")
        self.runs_label = QLabel(f"Runs: {self.context.runs_dir}")
        self.runs_label.setObjectName("runs_label")
        self.statusBar().addPermanentWidget(self.runs_label)
        self.statusBar().addPermanentWidget(self.compute_label)
        self.context.events.sig_runs_dir_changed.connect(
            lambda path: self.runs_label.setText(f"Runs: {path}")
        )

    def _show_compute(self, text: str) -> None:
        self.compute_label.setText(text)

    def show_error(self, text: str) -> None:
        self.message_bar.show_message(text)
        self.statusBar().showMessage(text.splitlines()[0], 10000)

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    # ------------------------------------------------------------ lifetime

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(0, self.sig_shown.emit)

    def shutdown(self) -> None:
        """Stop every panel's work and the window's own tasks; safe to call twice."""
        for widget in self.panels.values():
            try:
                cast(Panel, widget).shutdown()  # _build_panel checked the contract
            except Exception as exc:  # noqa: BLE001 - keep closing the others
                self.context.errors.append(f"panel shutdown failed: {exc}")
        self._tasks.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self._save_layout()
        self.shutdown()
        for dock in self.docks.values():  # floating docks are windows of their own
            if dock.isFloating():
                dock.hide()
        super().closeEvent(event)
