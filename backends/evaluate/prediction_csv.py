"""Prediction CSVs: the header, only the chosen columns (with progress), and what each column is.

:func:`read_csv_header` lists the columns, :func:`read_csv_columns` reads only the
chosen ones (with progress, so a million-row file shows a progress bar),
:class:`CsvSelection` says which column plays which part, and
:func:`predictions_from_csv` reads and checks them into
:class:`~backends.evaluate.predictions.Predictions`.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backends.evaluate.predictions import PredictionInputError, Predictions, build_predictions
from backends.progress import ProgressCallback, report

# Progress is reported every this many rows while reading.
_PROGRESS_ROWS = 50_000


def _check_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise PredictionInputError(
            f"{path} does not exist or is not a file: choose a CSV file of predictions"
        )
    return path


def read_csv_header(path: str | os.PathLike[str]) -> list[str]:
    """The column names in the first line of a CSV file."""
    path = _check_path(path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        try:
            header = next(csv.reader(handle))
        except StopIteration:
            raise PredictionInputError(
                f"{path.name} is empty: it needs a header line and rows"
            ) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise PredictionInputError(f"{path.name} is not a readable CSV file ({exc})") from None
    header = [name.strip() for name in header]
    if not any(header):
        raise PredictionInputError(
            f"{path.name} has an empty header line: the first line must name the columns"
        )
    return header


def missing_column_message(name: str, header: Sequence[str], role: str) -> str:
    """A message for a column that is not in the file, suggesting the closest name."""
    import difflib

    close = difflib.get_close_matches(name, list(header), n=1, cutoff=0.6)
    lowered = {h.lower(): h for h in header}
    hint = ""
    if name.lower() in lowered:
        hint = f" (did you mean {lowered[name.lower()]!r}? names are case-sensitive)"
    elif close:
        hint = f" (did you mean {close[0]!r}?)"
    shown = ", ".join(repr(h) for h in list(header)[:12]) + (", ..." if len(header) > 12 else "")
    return f"{role} column {name!r} is not in the file{hint}; its columns are {shown}"


def _read_rows(
    path: Path,
    pick: operator.itemgetter,
    progress: ProgressCallback | None,
    *,
    strict: bool,
    header: Sequence[str] = (),
    index: Sequence[int] = (),
) -> list:
    """The picked fields of every data row. ``strict``: the fast path, IndexError on a short row."""
    total = max(1, os.path.getsize(path))
    rows: list = []
    with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader)
            if strict:
                # map/extend run in C; progress is the byte position after each block.
                while True:
                    before = len(rows)
                    rows.extend(map(pick, itertools.islice(reader, _PROGRESS_ROWS)))
                    report(progress, 0.95 * raw.tell() / total)
                    if len(rows) - before < _PROGRESS_ROWS:
                        return rows
            for number, row in enumerate(reader):
                if number % _PROGRESS_ROWS == 0:
                    report(progress, 0.95 * raw.tell() / total)
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line
                if len(row) <= max(index):
                    missing = [header[i] for i in sorted(index) if i >= len(row)]
                    shown = ", ".join(repr(name) for name in missing)
                    raise PredictionInputError(
                        f"{path.name} line {reader.line_num} has {len(row)} fields but the header "
                        f"has {len(header)}: {shown} {'is' if len(missing) == 1 else 'are'} missing "
                        "there. Columns must have the same length; fix or remove that row"
                    )
                rows.append(pick(row))
        except csv.Error as exc:
            raise PredictionInputError(
                f"{path.name} line {reader.line_num} is not valid CSV ({exc})"
            ) from None
        except UnicodeDecodeError as exc:
            raise PredictionInputError(
                f"{path.name} is not UTF-8 text ({exc.reason}): save the file as UTF-8 CSV"
            ) from None
    return rows


def read_csv_columns(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    progress: ProgressCallback | None = None,
) -> dict[str, np.ndarray]:
    """Read only ``columns`` of a CSV file as arrays of strings (one per column).

    Progress is the share of the file read. Rows with too few fields are refused with
    their line number (a column that stops early would misalign the models' rows).
    """
    path = _check_path(path)
    header = read_csv_header(path)
    wanted = list(dict.fromkeys(columns))
    for name in wanted:
        if name not in header:
            raise PredictionInputError(missing_column_message(name, header, "the"))
    index = [header.index(name) for name in wanted]
    pick = operator.itemgetter(*index)
    try:
        rows = _read_rows(path, pick, progress, strict=True)
    except IndexError:
        # A short or blank row: read again row by row to skip blanks and name the bad line.
        rows = _read_rows(path, pick, progress, strict=False, header=header, index=index)
    if not rows:
        raise PredictionInputError(f"{path.name} has a header but no rows")
    if len(index) == 1:
        out = {wanted[0]: np.array(rows, dtype=object)}
    else:
        # One C-level pass per column; zip(*rows) over a million tuples is several times slower.
        out = {
            name: np.array(list(map(operator.itemgetter(k), rows)), dtype=object)
            for k, name in enumerate(wanted)
        }
    report(progress, 1.0)
    return out


@dataclass(kw_only=True)
class CsvSelection:
    """Which columns of a prediction CSV play which part; what the column picker edits."""

    label: str
    groups: list[str]
    pred_a: str = ""
    score_a: str = ""
    threshold_a: float = 0.5
    pred_b: str = ""
    score_b: str = ""
    threshold_b: float = 0.5
    positive_label: str = ""
    model_names: tuple[str, str] = ("model A", "model B")

    def columns(self) -> list[str]:
        """Every column this selection reads, each once."""
        names = [self.label, *self.groups, self.pred_a, self.score_a, self.pred_b, self.score_b]
        return [n for n in dict.fromkeys(names) if n]

    def check(self, header: Sequence[str]) -> None:
        """Refuse a selection that names no model or a column not in ``header``."""
        if not self.label:
            raise PredictionInputError("choose the true-label column")
        if not self.groups:
            raise PredictionInputError("choose at least one group column (e.g. race or sex)")
        if not (self.pred_a or self.score_a):
            raise PredictionInputError(
                "choose model A's predicted-label column or its score column"
            )
        roles = [("label", self.label)] + [("group", g) for g in self.groups]
        roles += [("prediction", self.pred_a), ("score", self.score_a)]
        roles += [
            ("second model's prediction", self.pred_b),
            ("second model's score", self.score_b),
        ]
        for role, name in roles:
            if name and name not in header:
                raise PredictionInputError(missing_column_message(name, header, role))


def predictions_from_csv(
    path: str | os.PathLike[str],
    selection: CsvSelection,
    *,
    progress: ProgressCallback | None = None,
) -> Predictions:
    """Read and check the columns ``selection`` names from a prediction CSV."""
    header = read_csv_header(path)
    selection.check(header)
    data = read_csv_columns(path, selection.columns(), progress=progress)
    preds: list[np.ndarray | None] = []
    scores: list[np.ndarray | None] = []
    thresholds: list[float | None] = []
    pred_cols: list[str] = []
    score_cols: list[str] = []
    for pred, score, threshold in (
        (selection.pred_a, selection.score_a, selection.threshold_a),
        (selection.pred_b, selection.score_b, selection.threshold_b),
    ):
        if not (pred or score):
            continue
        preds.append(data[pred] if pred and not score else None)
        scores.append(data[score] if score else None)
        thresholds.append(threshold if score else None)
        pred_cols.append(pred)
        score_cols.append(score)
    return build_predictions(
        data[selection.label],
        groups={g: data[g] for g in selection.groups},
        preds=preds,
        scores=scores,
        thresholds=thresholds,
        model_names=list(selection.model_names[: len(preds)]),
        label_column=selection.label,
        pred_columns=pred_cols,
        score_columns=score_cols,
        positive_label=selection.positive_label or None,
        source=str(path),
    )
