"""The numbers behind the live monitor, all plain numpy / stdlib so they are testable without Qt.

The rooms: :mod:`~backends.monitor_data.series` (growing arrays, smoothing),
:mod:`~backends.monitor_data.run_metrics` (a run's series by kind, field and
rank; which curve is which), :mod:`~backends.monitor_data.progress` (steps
done and time left), :mod:`~backends.monitor_data.config_diff` (what differs
between runs), :mod:`~backends.monitor_data.failure` (why a run failed) and
:mod:`~backends.monitor_data.exports` (sample previews, CSV export). This
package's namespace is the surface the monitor imports.
"""

from backends.monitor_data.config_diff import MISSING, differing_keys, flatten_config
from backends.monitor_data.exports import SAMPLE_SUFFIXES, export_metrics_csv, latest_sample
from backends.monitor_data.failure import FailureReport, failure_report, run_log_files
from backends.monitor_data.progress import RunProgress, estimate_progress, format_duration
from backends.monitor_data.run_metrics import (
    RecordColumns,
    RunMetrics,
    SeriesKey,
    is_loss_field,
    matching_fields,
)
from backends.monitor_data.series import DetailSource, EmaState, GrowingArray, Series, ema

__all__ = [
    "MISSING", "SAMPLE_SUFFIXES", "DetailSource", "EmaState", "FailureReport", "GrowingArray", "RecordColumns",
    "RunMetrics", "RunProgress", "Series", "SeriesKey", "differing_keys", "ema",
    "estimate_progress", "export_metrics_csv", "failure_report", "flatten_config",
    "format_duration", "is_loss_field", "latest_sample", "matching_fields", "run_log_files",
]
