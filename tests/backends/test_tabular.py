"""The shipped COMPAS and Adult data: contents, splits, no personal fields, bad files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from backends.data.errors import DataError
from backends.data.tabular import load_tabular, training_arrays
from resources import resource_path


def test_compas_is_propublicas_filtered_data_without_personal_fields():
    raw = resource_path("data", "compas", "compas-two-years.csv.gz").read_bytes()
    header = gzip.decompress(raw).decode().splitlines()[0].split(",")
    for personal in (
        "name",
        "first",
        "last",
        "dob",
        "id",
        "c_case_number",
        "compas_screening_date",
    ):
        assert personal not in header
    data = load_tabular("compas")
    assert len(data) == 6172
    assert data.labels.mean() == pytest.approx(0.455, abs=0.001)
    assert set(data.groups) == {"race", "sex", "age_cat"}
    assert not any(name.startswith("race") for name in data.feature_names)
    assert data.extra["decile_score"].min() == 1 and data.extra["decile_score"].max() == 10
    assert (data.split == "test").sum() == round(0.3 * 6172)
    for name in ("LICENSE", "PROVENANCE.md"):
        assert resource_path("data", "compas", name).is_file()


def test_adult_keeps_the_uci_split_and_aligned_features():
    data = load_tabular("adult")
    assert len(data) == 45222
    train, test = data.subset("train"), data.subset("test")
    assert (len(train), len(test)) == (30162, 15060)
    assert train.features.shape[1] == test.features.shape[1] == len(data.feature_names)
    assert data.labels.mean() == pytest.approx(0.2478, abs=0.001)
    sex = [i for i, n in enumerate(data.feature_names) if n.startswith("sex=")]
    assert np.all(data.features[:, sex].sum(axis=1) == 1)  # one-hot
    assert resource_path("data", "adult", "LICENSE").is_file()


def test_training_arrays_are_the_training_split_for_the_trainer():
    x, y = training_arrays("compas")
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (6172 - round(0.3 * 6172), 9)
    assert set(np.unique(y)) == {0, 1}


def test_bad_names_and_files_are_refused_with_the_fix(tmp_path):
    with pytest.raises(DataError, match="choose one of compas, adult"):
        load_tabular("german")
    bad = tmp_path / "compas.csv"
    bad.write_text("sex,age\nMale,30\n")
    with pytest.raises(DataError, match="has no column 'two_year_recid'"):
        load_tabular("compas", bad)
    with pytest.raises(DataError, match="missing"):
        load_tabular("compas", tmp_path / "nothing.csv")
