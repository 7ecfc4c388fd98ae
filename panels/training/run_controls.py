"""The launcher's run buttons: where to run, Launch, Stop, Kill (asked first), Resume.

The buttons only say what was asked (signals); the panel runs the action
(``panels.training.run_actions``) and hands back the state to show
(:meth:`RunControls.show_state`). The host picker lists this machine and the
saved remote hosts, edited in the Hosts dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from panels.training.state import TrainingState
from workbench.context import AppContext


class RunControls(QWidget):
    """Host picker and run buttons; see the module docstring.

    Signals
    -------
    sig_launch()            Launch was pressed
    sig_stop()              Stop was pressed
    sig_kill(object)        Kill was confirmed for this run folder (a Path)
    sig_resume()            Resume was pressed
    """

    sig_launch = Signal()
    sig_stop = Signal()
    sig_kill = Signal(object)
    sig_resume = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.kill_dialog: QMessageBox | None = None
        self._run: Path | None = None  # the run the buttons act on
        self.hosts_dialog: Any = None
        self.launch_button = self._button("Launch", "", self.sig_launch.emit)
        self.launch_button.setObjectName("launch_button")
        self.launch_button.setEnabled(False)
        self.stop_button = self._button("Stop", "Finish the current step, save a checkpoint, exit",
                                        self.sig_stop.emit)
        self.kill_button = self._button("Kill", "End every process of the run now (no checkpoint)",
                                        self._kill_pressed)
        self.resume_button = self._button("Resume", "Continue the selected run from its last "
                                          "checkpoint", self.sig_resume.emit)
        self.run_label = QLabel("No run selected")
        self.run_label.setObjectName("run_label")
        self.host_box = QComboBox()
        self.host_box.setObjectName("host_box")
        self.host_box.setToolTip("Where Launch starts the run: this machine, or a saved remote host "
                                 "(the run is mirrored here as it trains)")
        hosts_button = QPushButton("Hosts…")
        hosts_button.setObjectName("hosts_button")
        hosts_button.clicked.connect(self.open_hosts_dialog)
        self.refresh_hosts()
        host_row = QHBoxLayout()
        host_row.addWidget(QLabel("Run on"))
        host_row.addWidget(self.host_box, 1)
        host_row.addWidget(hosts_button)
        control = QHBoxLayout()
        for button in (self.launch_button, self.stop_button, self.kill_button, self.resume_button):
            control.addWidget(button)
        control.addWidget(self.run_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(host_row)
        layout.addLayout(control)

    @staticmethod
    def _button(text: str, tip: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        if tip:
            button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    def show_state(self, state: TrainingState) -> None:
        """Enable what the state allows and name the selected run."""
        self.launch_button.setEnabled(state.can_launch)
        for button in (self.stop_button, self.kill_button, self.resume_button):
            button.setEnabled(state.current_run is not None)
        self.run_label.setText(state.run_label)
        self._run = state.current_run

    # ------------------------------------------------------------ kill, asked first

    def _kill_pressed(self) -> None:
        if self._run is not None:
            self.ask_kill(self._run)

    def ask_kill(self, run: Path) -> None:
        """Ask first: Kill ends every process now, without a checkpoint of the current step."""
        box = QMessageBox(self)
        box.setObjectName("kill_dialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Kill run")
        box.setText(f"Kill {run.name} now?")
        box.setInformativeText("Every process of the run ends at once. Steps since the last "
                               "checkpoint are lost; Stop saves a checkpoint first.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._on_kill_answer(box, run, result))
        self.kill_dialog = box
        box.open()

    def _on_kill_answer(self, box: QMessageBox, run: Path, result: int) -> None:
        self.kill_dialog = None
        box.deleteLater()
        if result == QMessageBox.StandardButton.Yes:
            self.sig_kill.emit(run)

    # ------------------------------------------------------------ remote hosts

    def refresh_hosts(self) -> None:
        """Fill the host picker from the saved hosts (this machine first)."""
        from backends.remote.hosts import HostError, load_hosts

        chosen = self.host_box.currentData()
        try:
            hosts = load_hosts()
        except HostError as exc:
            hosts = {}
            self.context.show_error(str(exc))
        self.host_box.clear()
        self.host_box.addItem("This machine", None)
        for host in hosts.values():
            self.host_box.addItem(f"{host.name} ({host.kind}, {host.destination})", host.name)
        index = self.host_box.findData(chosen)
        self.host_box.setCurrentIndex(max(0, index))

    def selected_host(self) -> str | None:
        return self.host_box.currentData()

    def open_hosts_dialog(self) -> Any:
        from panels.training.hosts_dialog import HostsDialog

        if self.hosts_dialog is None:
            self.hosts_dialog = HostsDialog(self.context, self)
            self.hosts_dialog.sig_hosts_changed.connect(self.refresh_hosts)
        self.hosts_dialog.refresh()
        self.hosts_dialog.show()
        return self.hosts_dialog

    def shutdown(self) -> None:
        if self.kill_dialog is not None:
            self.kill_dialog.reject()
        if self.hosts_dialog is not None:
            self.hosts_dialog.shutdown()
