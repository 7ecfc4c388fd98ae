"""Predictions to evaluate: reading them from a CSV and checking them.

A prediction file is a CSV with one row per test example: a true label, the model's
predicted label or score, one or more group columns (several make intersectional
groups such as "African-American, Male") and optionally a second model's predicted
label or score on the same rows. :func:`read_csv_header` lists the columns,
:func:`read_csv_columns` reads only the chosen ones (with progress, so a
million-row file shows a progress bar), and :func:`build_predictions` checks them and
returns :class:`Predictions`. Every problem is reported as a
:class:`PredictionInputError` naming the column and what to do about it.
"""

from __future__ import annotations

import csv
import itertools
import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from backends.progress import ProgressCallback, report

# Spellings accepted as the positive / negative class when a column is not 0/1.
_TRUE_WORDS = {"1", "1.0", "true", "yes", "y", "t", "positive", "pos"}
_FALSE_WORDS = {"0", "0.0", "false", "no", "n", "f", "negative", "neg"}
_MISSING = {"", "nan", "na", "n/a", "null", "none"}
# Group labels joined into one intersectional group name.
GROUP_JOIN = ", "
# Progress is reported every this many rows while reading.
_PROGRESS_ROWS = 50_000


class PredictionInputError(ValueError):
    """Predictions that cannot be evaluated; the message names the column and the fix."""


@dataclass
class Predictions:
    """Checked predictions of one or two binary classifiers on the same rows.

    ``label`` holds 0/1 true labels; ``pred`` one 0/1 array per model (from a column of
    predicted labels, or a score column cut at a threshold: predicted positive when
    ``score >= threshold``); ``scores`` the score per model where scores were given
    (None otherwise); ``group`` an integer code per row indexing ``group_names``.
    """

    label: np.ndarray
    pred: list[np.ndarray]
    group: np.ndarray
    group_names: list[str]
    model_names: list[str]
    scores: list[np.ndarray | None] = field(default_factory=list)
    thresholds: list[float | None] = field(default_factory=list)
    group_columns: list[str] = field(default_factory=list)
    label_column: str = "label"
    # Display names of the two classes and the two predictions; the COMPAS demo
    # calls them "did not reoffend"/"reoffended" and "low risk"/"high risk".
    label_names: tuple[str, str] = ("label 0", "label 1")
    prediction_names: tuple[str, str] = ("predicted 0", "predicted 1")
    source: str = ""

    @property
    def n_rows(self) -> int:
        return int(self.label.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.pred)

    def with_thresholds(self, thresholds: Sequence[float | None]) -> Predictions:
        """A copy whose predictions are the scores cut at new thresholds (one per model).

        A threshold of None keeps that model's predictions and threshold as they are.
        """
        if len(thresholds) != self.n_models:
            raise PredictionInputError(
                f"{len(thresholds)} thresholds were given for {self.n_models} models: give one "
                "per model"
            )
        preds, cuts = list(self.pred), list(self.thresholds)
        for i, t in enumerate(thresholds):
            if t is None:
                continue
            score = self.scores[i] if i < len(self.scores) else None
            if score is None:
                raise PredictionInputError(
                    f"model {self.model_names[i]!r} was given as predicted labels, not scores: "
                    "choose a score column to move its threshold"
                )
            preds[i] = (score >= t).astype(np.int8)
            cuts[i] = float(t)
        return replace(self, pred=preds, thresholds=cuts)


# ------------------------------------------------------------------ the CSV


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
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader)
            if strict:
                # map/extend run in C; progress is the byte position after each block.
                while True:
                    before = len(rows)
                    rows.extend(map(pick, itertools.islice(reader, _PROGRESS_ROWS)))
                    report(progress, 0.95 * handle.buffer.tell() / total)
                    if len(rows) - before < _PROGRESS_ROWS:
                        return rows
            for number, row in enumerate(reader):
                if number % _PROGRESS_ROWS == 0:
                    report(progress, 0.95 * handle.buffer.tell() / total)
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


# ------------------------------------------------------------------ checking columns


def _strip(values: np.ndarray) -> np.ndarray:
    return np.array([str(v).strip() for v in values], dtype=object)


def _word_code(value: str) -> int | None:
    """1 or 0 for a value that spells a class (1, true, yes, ...), None otherwise."""
    low = value.lower()
    if low in _TRUE_WORDS:
        return 1
    if low in _FALSE_WORDS:
        return 0
    try:
        number = float(low)
    except ValueError:
        return None
    return int(number) if number in (0.0, 1.0) else None


def _binary_codes(
    values: np.ndarray, column: str, role: str, positive: str | None, *, strict: bool = True
) -> tuple[np.ndarray, str | None]:
    """0/1 codes of a binary column, and the value taken as positive.

    0/1, true/false and yes/no columns need no help; any other pair of values needs
    ``positive`` (which, when ``strict``, must be one of them: labels; predictions
    given as 0/1 against string labels are still read as 0/1).
    """
    raw = np.asarray(values)
    if raw.dtype.kind == "O":
        try:
            # Most label columns are 0/1 text: read them as numbers in one C loop.
            raw = raw.astype(np.float64)
        except (ValueError, TypeError):
            pass
    if raw.dtype.kind in "biuf":
        if raw.dtype.kind == "f" and np.any(~np.isfinite(raw)):
            bad = ~np.isfinite(raw)
            raise PredictionInputError(
                f"{role} column {column!r} has {int(bad.sum())} missing or NaN values "
                f"(first at row {int(np.flatnonzero(bad)[0]) + 1}): drop or fill those rows"
            )
        if set(np.unique(raw).tolist()) <= {0, 1}:
            return raw.astype(np.int8), "1"
        raw = np.array(
            [f"{v:g}" if isinstance(v, float) else str(v) for v in raw.tolist()], dtype=object
        )
    text = _strip(raw)
    missing = np.array([v.lower() in _MISSING for v in text], dtype=bool)
    if np.any(missing):
        raise PredictionInputError(
            f"{role} column {column!r} has {int(missing.sum())} empty or missing values "
            f"(first at row {int(np.flatnonzero(missing)[0]) + 1}): drop or fill those rows"
        )
    distinct = sorted(set(text.tolist()))
    if len(distinct) > 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise PredictionInputError(
            f"{role} column {column!r} is not binary: it has {len(distinct)} values ({shown}). "
            "Labels and predictions need two classes: map the column to 0/1, or, if it is a "
            "score, choose it as a score column with a threshold"
        )
    if positive:
        positive = str(positive).strip()
        if positive in distinct:
            return (text == positive).astype(np.int8), positive
        if strict and len(distinct) == 2:
            raise PredictionInputError(
                f"positive label {positive!r} is not a value of {role} column {column!r} (its "
                f"values are {distinct[0]!r} and {distinct[1]!r}): choose one of them"
            )
    codes = {v: _word_code(v) for v in distinct}
    if None not in codes.values() and len(set(codes.values())) == len(distinct):
        table = np.array([codes[v] for v in text.tolist()], dtype=np.int8)
        return table, next((v for v, c in codes.items() if c == 1), "1")
    if positive and not strict and len(distinct) == 1:
        return np.zeros(len(text), dtype=np.int8), positive
    shown = " and ".join(repr(v) for v in distinct)
    raise PredictionInputError(
        f"{role} column {column!r} has the values {shown}: say which one is the positive class "
        "(give the positive label)"
    )


def _scores(values: np.ndarray, column: str) -> np.ndarray:
    """A float column; NaN, empty or non-numeric entries are refused with their row."""
    raw = np.asarray(values)
    if raw.dtype.kind in "biuf":
        out = raw.astype(np.float64)
    else:
        try:
            out = raw.astype(np.float64)
        except (ValueError, TypeError):
            out = np.empty(len(raw), dtype=np.float64)
            for i, v in enumerate(raw):
                text = str(v).strip()
                try:
                    out[i] = float(text) if text.lower() not in _MISSING else np.nan
                except ValueError:
                    raise PredictionInputError(
                        f"score column {column!r} has the non-numeric value {text!r} at row {i + 1}: "
                        "scores must be numbers; fix that row or choose another column"
                    ) from None
    bad = ~np.isfinite(out)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise PredictionInputError(
            f"score column {column!r} has {int(bad.sum())} NaN or missing values (first at row "
            f"{first + 1}): drop or fill those rows before evaluating"
        )
    return out


def group_codes(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Integer group per row from one or more group columns (intersections), and names.

    Groups are sorted by name; a blank value is its own group, "(missing)".
    """
    if not columns:
        raise PredictionInputError("choose at least one group column (e.g. race or sex)")
    codes = None
    parts: list[list[str]] = []
    for values in columns.values():
        # Unique values first: stripping and naming then touch each distinct value once.
        distinct, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
        cleaned = [v.strip() or "(missing)" for v in distinct.tolist()]
        names, remap = np.unique(np.array(cleaned, dtype=str), return_inverse=True)
        column_codes = remap[inverse.reshape(-1)]
        parts.append(names.tolist())
        codes = column_codes if codes is None else codes * len(names) + column_codes
    used, codes = np.unique(codes, return_inverse=True)
    labels = []
    for code in used.tolist():
        pieces = []
        for names in reversed(parts):
            code, k = divmod(code, len(names))
            pieces.append(names[k])
        labels.append(GROUP_JOIN.join(reversed(pieces)))
    # Keep groups sorted by their full name.
    order = np.argsort(np.array(labels, dtype=str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes.reshape(-1)].astype(np.int64), [labels[i] for i in order]


def build_predictions(
    label: np.ndarray,
    *,
    groups: dict[str, np.ndarray],
    preds: Sequence[np.ndarray | None] = (),
    scores: Sequence[np.ndarray | None] = (),
    thresholds: Sequence[float | None] = (),
    model_names: Sequence[str] = ("model A", "model B"),
    label_column: str = "label",
    pred_columns: Sequence[str] = (),
    score_columns: Sequence[str] = (),
    positive_label: str | None = None,
    source: str = "",
) -> Predictions:
    """Check label, predictions or scores and groups, and bundle them.

    For each model (one or two) give either ``preds[i]`` (predicted labels) or
    ``scores[i]`` with ``thresholds[i]`` (predicted positive when score >= threshold).
    All arrays must have the same length, as they describe the same rows.
    """
    n_models = max(len(preds), len(scores))
    if n_models == 0:
        raise PredictionInputError(
            "choose a predicted-label column or a score column with a threshold"
        )
    if n_models > 2:
        raise PredictionInputError(f"{n_models} models were given: compare at most two at a time")
    preds = list(preds) + [None] * (n_models - len(preds))
    scores = list(scores) + [None] * (n_models - len(scores))
    thresholds = list(thresholds) + [None] * (n_models - len(thresholds))
    pred_columns = list(pred_columns) + [""] * (n_models - len(pred_columns))
    score_columns = list(score_columns) + [""] * (n_models - len(score_columns))

    n = len(label)
    lengths = {f"label column {label_column!r}": n}
    for name, values in groups.items():
        lengths[f"group column {name!r}"] = len(values)
    for i in range(n_models):
        if preds[i] is not None:
            lengths[f"prediction column {pred_columns[i] or model_names[i]!r}"] = len(preds[i])
        if scores[i] is not None:
            lengths[f"score column {score_columns[i] or model_names[i]!r}"] = len(scores[i])
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {v:,} rows" for k, v in lengths.items())
        raise PredictionInputError(
            f"the columns have different lengths ({shown}): every column must describe the same "
            "rows, in the same order"
        )
    if n == 0:
        raise PredictionInputError("there are no rows to evaluate")

    y, positive = _binary_codes(label, label_column, "label", positive_label)
    out_preds: list[np.ndarray] = []
    out_scores: list[np.ndarray | None] = []
    out_thresholds: list[float | None] = []
    for i in range(n_models):
        if scores[i] is not None:
            column = score_columns[i] or model_names[i]
            s = _scores(scores[i], column)
            if thresholds[i] is None or not np.isfinite(float(thresholds[i])):
                raise PredictionInputError(
                    f"score column {column!r} needs a threshold (predicted positive when score >= "
                    "threshold)"
                )
            out_scores.append(s)
            out_thresholds.append(float(thresholds[i]))
            out_preds.append((s >= float(thresholds[i])).astype(np.int8))
        elif preds[i] is not None:
            column = pred_columns[i] or model_names[i]
            codes, _ = _binary_codes(preds[i], column, "prediction", positive, strict=False)
            out_preds.append(codes)
            out_scores.append(None)
            out_thresholds.append(None)
        else:
            raise PredictionInputError(
                f"{model_names[i]} has neither a prediction column nor a score column: choose one"
            )
    codes, names = group_codes(groups)
    return Predictions(
        label=y,
        pred=out_preds,
        group=codes,
        group_names=names,
        model_names=list(model_names[:n_models]),
        scores=out_scores,
        thresholds=out_thresholds,
        group_columns=list(groups),
        label_column=label_column,
        source=source,
    )


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
