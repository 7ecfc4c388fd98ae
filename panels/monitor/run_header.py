"""The Monitor's header: the failure banner, the current run's title, progress bar and ETA.

:class:`RunHeader` shows what the first shown run is (name, state, model,
strategy and world size, the host of a remote run, the reason for its state),
how far it got against its planned steps and, while it runs, when it will be
done; above that, the failure banner of a run that failed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from backends.monitor_data import RunProgress, estimate_progress, format_duration
from backends.remote.record import read_remote
from backends.runs import RunDir
from panels.monitor.failure_banner import FailureBanner
from panels.monitor.monitor_state import WatchedRun, config_text

NO_RUN_TITLE = "Select a run, or launch one from the Training panel."


def run_progress(run: WatchedRun) -> RunProgress | None:
    """A run's progress and ETA (rank 0's train records against its planned steps)."""
    metrics = run.metrics
    ranks = metrics.ranks("train")
    if not ranks:
        return None
    candidates = [s for (k, _n, r), s in metrics.series.items() if k == "train" and r == ranks[0]]
    series = max(candidates, key=len)
    return estimate_progress(series.step.view, series.time.view, run.total_steps)


def host_note(path: Path, links: Mapping[Path, str]) -> str:
    """`` · on HOST`` for a run launched on a remote host, with its link when it is down."""
    record = read_remote(RunDir(path))
    if record is None:
        return ""
    link = links.get(path) or record.get("link") or ""
    job = f", Slurm job {record['job_id']}" if record.get("job_id") else ""
    note = f" · on <b>{record.get('host', '?')}</b>{job}"
    return note + (" · <i>reconnecting…</i>" if link == "reconnecting" else "")


class RunHeader(QWidget):
    """The banner and the title line with progress; see the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = FailureBanner()
        self.title_label = QLabel(NO_RUN_TITLE)
        self.title_label.setObjectName("run_title")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("run_progress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.progress_bar.hide()  # an empty bar says nothing: it shows with a run
        self.eta_label = QLabel("")
        self.eta_label.setObjectName("run_eta")
        line = QHBoxLayout()
        line.addWidget(self.title_label, 1)
        line.addWidget(self.progress_bar, 1)
        line.addWidget(self.eta_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addLayout(line)

    def show_failure(self, run: WatchedRun | None) -> None:
        """The banner of this run's failure, or none."""
        if run is not None and run.failure is not None:
            self.banner.show_report(run.failure)
        else:
            self.banner.clear()

    def show_nothing(self) -> None:
        self.title_label.setText(NO_RUN_TITLE)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")
        self.progress_bar.hide()
        self.eta_label.setText("")

    def show_run(self, run: WatchedRun, status: str, more: int, reason: str | None,
                 host: str) -> None:
        """The run's title (``more`` other runs shown with it), state and progress."""
        config = run.config
        extra = f" + {more} more" if more > 0 else ""
        self.title_label.setText(
            f"<b>{run.name}</b>{extra} · {status} · "
            f"{run.model_label} · {config_text(config.get('strategy')) or '?'} "
            f"× {run.world_label}" + host
            + (f"<br><span style='color: gray;'>{html.escape(reason)}</span>" if reason else "")
        )
        progress = run_progress(run)
        self.progress_bar.show()
        if progress is None:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("no steps yet")
            self.eta_label.setText("")
            return
        self.progress_bar.setValue(int(round(progress.fraction * 1000)))
        self.progress_bar.setFormat(f"step {progress.step} / {progress.total}")
        if status == "running":
            self.eta_label.setText(f"ETA {format_duration(progress.eta_s)}")
        else:
            self.eta_label.setText(status)
