"""The Hosts dialog: list, add, check and remove the remote hosts runs can be launched on.

The same store as ``workbench hosts`` (:mod:`backends.remote.hosts`): only a
key *path* is saved, never a key or a password. Checking a host connects over
SSH on a worker (the window never waits on the network) and shows what the
host offers: Python, workbench, torch, GPUs, free disk. Problems (unknown
host, unreachable, authentication refused, no workbench there, the ``ssh``
extra missing) are one line under the list.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Name", "Kind", "Destination", "Working folder", "Python", "Key")


def _check(name: str) -> Any:
    from backends.remote.check import check_host
    from backends.remote.hosts import get_host

    return check_host(get_host(name))


class HostsDialog(QDialog):
    """Saved hosts with Add, Check and Remove.

    Signals
    -------
    sig_hosts_changed()   a host was added or removed
    """

    sig_hosts_changed = Signal()

    def __init__(self, context: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remote hosts")
        self.context = context
        self._tasks = context.task_runner(self, "hosts-check")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("hosts_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.message = QLabel("")
        self.message.setObjectName("hosts_message")
        self.message.setWordWrap(True)
        self.report = QPlainTextEdit()
        self.report.setObjectName("hosts_report")
        self.report.setReadOnly(True)
        self.report.setPlaceholderText("Select a host and press Check to see what it offers.")

        self.name_edit = QLineEdit(placeholderText="gpu-box")
        self.destination_edit = QLineEdit(placeholderText="me@gpu-box.lab:22")
        self.workdir_edit = QLineEdit(placeholderText="/home/me/workbench")
        self.python_edit = QLineEdit("python3")
        self.kind_box = QComboBox()
        self.kind_box.addItems(["ssh", "slurm"])
        self.key_edit = QLineEdit(placeholderText="~/.ssh/id_ed25519 (empty: SSH agent)")
        self.jump_edit = QLineEdit(placeholderText="optional: me@bastion")
        self.known_hosts_edit = QLineEdit(placeholderText="optional: ~/.ssh/known_hosts")
        form = QFormLayout()
        for label, widget in (("Name", self.name_edit), ("Destination", self.destination_edit),
                              ("Working folder", self.workdir_edit), ("Remote Python", self.python_edit),
                              ("Kind", self.kind_box), ("Key file", self.key_edit),
                              ("Jump host", self.jump_edit), ("known_hosts", self.known_hosts_edit)):
            form.addRow(label, widget)

        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_from_form)
        self.check_button = QPushButton("Check")
        self.check_button.clicked.connect(self.check_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.check_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.message)
        layout.addWidget(self.report, 1)
        layout.addWidget(QLabel("<b>Add a host</b> (keys stay in their files: only the path is saved)"))
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.resize(820, 640)
        self.refresh()

    # ------------------------------------------------------------ public API

    def refresh(self) -> None:
        from backends.remote.hosts import HostError, load_hosts

        try:
            hosts = list(load_hosts().values())
        except HostError as exc:
            hosts = []
            self.show_message(str(exc))
        self.table.setRowCount(len(hosts))
        for row, host in enumerate(hosts):
            for column, value in enumerate((host.name, host.kind, host.destination, host.workdir,
                                            host.python, host.key or "agent")):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                self.table.selectRow(row)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def add_from_form(self) -> bool:
        from backends.remote.hosts import Host, HostError, add_host
        from backends.remote.ssh import EXTRA_HINT, available

        def text(edit: QLineEdit) -> str | None:
            return edit.text().strip() or None

        try:
            host = add_host(Host(name=text(self.name_edit) or "", destination=text(self.destination_edit) or "",
                                 workdir=text(self.workdir_edit) or "", python=text(self.python_edit) or "python3",
                                 kind=self.kind_box.currentText(), key=text(self.key_edit),
                                 jump=text(self.jump_edit), known_hosts=text(self.known_hosts_edit)))
        except HostError as exc:
            self.show_message(str(exc))
            return False
        self.refresh()
        self.select(host.name)
        self.show_message(f"Saved {host.name}." + ("" if available() else f" Note: {EXTRA_HINT}"))
        self.sig_hosts_changed.emit()
        return True

    def remove_selected(self) -> None:
        from backends.remote.hosts import HostError, remove_host

        name = self.selected_name()
        if name is None:
            return
        try:
            remove_host(name)
        except HostError as exc:
            self.show_message(str(exc))
            return
        self.refresh()
        self.show_message(f"Removed {name} (its runs stay in the runs folder).")
        self.sig_hosts_changed.emit()

    def check_selected(self) -> None:
        name = self.selected_name()
        if name is None:
            self.show_message("Select a host to check.")
            return
        self.check_button.setEnabled(False)
        self.show_message(f"Checking {name}…")
        self._tasks.submit(_check, name, on_done=self._checked, on_error=self._check_failed)

    def is_busy(self) -> bool:
        return self._tasks.is_busy()

    def shutdown(self) -> None:
        self._tasks.shutdown()

    def done(self, result: int) -> None:  # closing waits for a check in flight
        self.shutdown()
        super().done(result)

    # ------------------------------------------------------------ internals

    def _checked(self, report: Any) -> None:
        self.check_button.setEnabled(True)
        self.show_message(f"{report.host}: {'ready' if report.ok else 'NOT ready'}")
        self.report.setPlainText("\n".join(report.lines()))

    def _check_failed(self, exc: BaseException, _details: str) -> None:
        self.check_button.setEnabled(True)
        self.show_message(str(exc))
        self.report.clear()

    def _update_buttons(self) -> None:
        chosen = self.selected_name() is not None
        self.check_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)
