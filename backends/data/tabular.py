"""Tabular datasets for fairness work that ship with the workbench: COMPAS and UCI Adult.

Both are reduced copies in ``resources/data/<name>/`` (only the columns used, no
names, dates or case numbers; provenance and licence beside them). A loader returns
:class:`TabularData`: numeric features (numbers as they are, categories one-hot),
0/1 labels, the protected attributes as strings (kept apart from the features so
evaluation can group by them), a fixed train/test split, and extra columns such as
COMPAS's own risk score.

- ``"compas"``: ProPublica's two-year recidivism data, 6,172 defendants after their
  filter. Label: reoffended within two years. Features: sex, age, juvenile felony /
  misdemeanour / other counts, prior counts, charge degree (those Dressel & Farid
  2018 used; race and the COMPAS score are not features). Groups: race, sex, age
  category. Extra: ``decile_score`` (COMPAS, 1-10). Split: a fixed 70/30 shuffle.
- ``"adult"``: UCI Adult census income, 45,222 rows without missing values.
  Label: income > 50K. Features: every column but the label, including race and
  sex as the usual benchmark does. Groups: race, sex. Split: UCI's own train/test.

:func:`training_arrays` is what the trainer calls: the training split as
``(features float32, labels int64)``, unstandardised (the trainer standardises and
stores its mean and std in the checkpoint).
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from backends.data.errors import DataError

TABULAR_DATASETS = ("compas", "adult")


@dataclass(frozen=True)
class _Spec:
    file: str
    label: str
    positive: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    groups: tuple[str, ...]
    extra: tuple[str, ...]
    label_names: tuple[str, str]
    description: str


_SPECS = {
    "compas": _Spec(
        file="compas-two-years.csv.gz",
        label="two_year_recid",
        positive="1",
        numeric=("age", "juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count"),
        categorical=("sex", "c_charge_degree"),
        groups=("race", "sex", "age_cat"),
        extra=("decile_score",),
        label_names=("did not reoffend", "reoffended"),
        description="COMPAS two-year recidivism (ProPublica, Broward County, 2013-2014)",
    ),
    "adult": _Spec(
        file="adult.csv.gz",
        label="income",
        positive=">50K",
        numeric=("age", "education_num", "capital_gain", "capital_loss", "hours_per_week"),
        categorical=(
            "workclass",
            "marital_status",
            "occupation",
            "relationship",
            "race",
            "sex",
            "native_country",
        ),
        groups=("race", "sex"),
        extra=(),
        label_names=("income <= 50K", "income > 50K"),
        description="UCI Adult census income (1994 CPS)",
    ),
}
# COMPAS has no official split; this seed fixes ours so every run and every
# evaluation agree on which rows were held out.
_COMPAS_SPLIT_SEED = 2016
_COMPAS_TEST_SHARE = 0.3


@dataclass
class TabularData:
    """One tabular dataset: features, labels, protected attributes, split and extra columns."""

    name: str
    features: np.ndarray  # float32 [n, d]
    labels: np.ndarray  # int64 [n], 1 = the positive class
    feature_names: list[str]
    groups: dict[str, np.ndarray]  # protected attribute -> str per row
    split: np.ndarray  # "train" / "test" per row
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    label_names: tuple[str, str] = ("negative", "positive")
    description: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, split: str) -> TabularData:
        """The rows of one split (``"train"`` or ``"test"``); ``"all"`` returns everything."""
        if split == "all":
            return self
        if split not in ("train", "test"):
            raise DataError(f"split {split!r} is unknown: choose train, test or all")
        keep = self.split == split
        return replace(
            self,
            features=self.features[keep],
            labels=self.labels[keep],
            groups={k: v[keep] for k, v in self.groups.items()},
            split=self.split[keep],
            extra={k: v[keep] for k, v in self.extra.items()},
        )


def _default_path(name: str) -> Path | None:
    """The shipped file of a dataset, as a real path (None if it is not on disk)."""
    from resources import resource_path

    node = resource_path("data", name, _SPECS[name].file)
    return Path(str(node)) if node.is_file() else None


@functools.lru_cache(maxsize=4)
def _read_table(path: str, mtime: float) -> dict[str, np.ndarray]:
    """The columns of a (possibly gzipped) CSV as string arrays; cached per file version."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    reader = csv.reader(io.StringIO(raw.decode("utf-8")))
    header = [h.strip() for h in next(reader)]
    rows = [row for row in reader if row]
    if any(len(row) != len(header) for row in rows):
        bad = next(i for i, row in enumerate(rows) if len(row) != len(header))
        raise csv.Error(f"row {bad + 2} has {len(rows[bad])} fields, the header {len(header)}")
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    return {
        name: np.char.strip(np.array(col, dtype=str))
        for name, col in zip(header, columns, strict=True)
    }


def _column(table: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in table:
        raise DataError(
            f"{path} has no column {name!r}: use the shipped file or one with the same columns"
        )
    return table[name]


def load_tabular(name: str, path: str | os.PathLike[str] | None = None) -> TabularData:
    """Load ``"compas"`` or ``"adult"`` from the shipped copy, or from ``path`` (same columns)."""
    if name not in _SPECS:
        raise DataError(
            f"tabular dataset {name!r} is unknown: choose one of {', '.join(TABULAR_DATASETS)}"
        )
    spec = _SPECS[name]
    file, table = _open_table(name, spec, path)
    n_rows = len(next(iter(table.values())))
    if n_rows == 0:
        raise DataError(f"{file} has no rows")
    labels = (_column(table, spec.label, file) == spec.positive).astype(np.int64)
    features, names = _features(table, spec, file)
    split = _split(name, table, file, n_rows)
    groups = {g: _column(table, g, file).astype(str) for g in spec.groups}
    extra = {}
    for col in spec.extra:
        try:
            extra[col] = _column(table, col, file).astype(np.float64)
        except ValueError:
            raise DataError(f"{file}: column {col!r} must be numeric") from None
    return TabularData(
        name=name,
        features=np.ascontiguousarray(features),
        labels=labels,
        feature_names=names,
        groups=groups,
        split=split,
        extra=extra,
        label_names=spec.label_names,
        description=spec.description,
    )


def _open_table(
    name: str, spec: _Spec, path: str | os.PathLike[str] | None
) -> tuple[Path, dict[str, np.ndarray]]:
    """The data file (``path``, or the shipped copy) and its columns; a readable error if not."""
    file = Path(path).expanduser() if path else _default_path(name)
    if file is None or not file.is_file():
        raise DataError(
            f"the {name} data file {file or spec.file} is missing: reinstall the workbench, or give "
            "the path of a CSV with the same columns"
        )
    try:
        return file, _read_table(str(file), file.stat().st_mtime)
    except (
        OSError,
        UnicodeDecodeError,
        csv.Error,
        StopIteration,
        EOFError,
        gzip.BadGzipFile,
    ) as exc:
        raise DataError(
            f"{file} is not a readable CSV file ({exc}): give a UTF-8 CSV, plain or gzipped"
        ) from exc


def _features(
    table: dict[str, np.ndarray], spec: _Spec, file: Path
) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are and categorical ones one-hot, with the feature names."""
    columns: list[np.ndarray] = []
    names: list[str] = []
    for col in spec.numeric:
        values = _column(table, col, file)
        try:
            columns.append(values.astype(np.float32))
        except ValueError:
            raise DataError(f"{file}: column {col!r} must be numeric") from None
        names.append(col)
    for col in spec.categorical:
        # Sorted categories of the whole file: train and test rows get the same columns.
        categories, codes = np.unique(_column(table, col, file), return_inverse=True)
        one_hot = np.eye(len(categories), dtype=np.float32)[codes]
        columns.extend(one_hot.T)
        names.extend(f"{col}={category}" for category in categories)
    return np.stack(columns, axis=1), names


def _split(name: str, table: dict[str, np.ndarray], file: Path, n_rows: int) -> np.ndarray:
    """``"train"``/``"test"`` per row: Adult's own split, COMPAS's fixed shuffle."""
    if name == "adult":
        return _column(table, "split", file).astype(str)
    order = np.random.default_rng(_COMPAS_SPLIT_SEED).permutation(n_rows)
    split = np.full(n_rows, "train", dtype=object)
    split[order[: int(round(_COMPAS_TEST_SHARE * n_rows))]] = "test"
    return split.astype(str)


def training_arrays(
    name: str, path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The training split as ``(features float32 [n, d], labels int64 [n])`` for the trainer.

    The test split is held out for evaluation (:func:`load_tabular` + ``subset("test")``).
    """
    train = load_tabular(name, path).subset("train")
    return train.features, train.labels
