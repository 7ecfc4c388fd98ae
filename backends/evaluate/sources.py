"""Predictions that need no file: the offline demos and a workbench classifier checkpoint.

- :func:`compas_demo`: ProPublica's COMPAS data. Model A is COMPAS itself ("high
  risk" = decile score >= 5, the score being the decile); model B is a logistic
  regression on age and number of priors only, the two-feature model with which
  Dressel & Farid (Science Advances, 2018) matched COMPAS's accuracy. Its scores are
  cross-fitted (each half of the rows is scored by a model fitted on the other
  half), so no row is scored by a model that saw it.
- :func:`adult_demo`: UCI Adult test split; model A a logistic regression on every
  feature, model B the same without race and sex ("fairness through unawareness"),
  both fitted on the training split.
- :func:`predictions_from_checkpoint`: a classifier trained by the workbench on
  ``compas`` or ``adult``, scored on the held-out test split of its dataset.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

import numpy as np

from backends.data.tabular import TabularData, load_tabular
from backends.evaluate.predictions import PredictionInputError, Predictions, build_predictions
from backends.progress import ProgressCallback, report

if TYPE_CHECKING:
    from backends.checkpoint import LoadedModel

DEMOS = ("compas", "adult")


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-4, iterations: int = 25
) -> np.ndarray:
    """Weights (intercept first) of an L2-regularised logistic regression, by Newton steps."""
    design = np.column_stack([np.ones(len(x)), x]).astype(np.float64)
    w = np.zeros(design.shape[1])
    penalty = l2 * len(x) * np.eye(design.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + penalty @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return w


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(w[0] + x.astype(np.float64) @ w[1:])))


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = train.mean(axis=0)
    std = np.where(train.std(axis=0) > 0, train.std(axis=0), 1.0)
    return [(a - mean) / std for a in (train, *others)]


def compas_demo(
    group: str | list[str] = "race", progress: ProgressCallback | None = None
) -> Predictions:
    """COMPAS (decile >= 5) against a two-feature logistic regression, on all 6,172 rows."""
    data = load_tabular("compas")
    report(progress, 0.3)
    columns = [data.feature_names.index("age"), data.feature_names.index("priors_count")]
    x = data.features[:, columns]
    # Cross-fitting: the halves are fixed by a seed so the demo is the same every time.
    half = np.random.default_rng(2018).permutation(len(x)) % 2 == 0
    scores = np.empty(len(x))
    for fit_rows in (half, ~half):
        xs, xo = _standardise(x[fit_rows], x[~fit_rows])
        w = fit_logistic(xs, data.labels[fit_rows])
        scores[~fit_rows] = predict_logistic(w, xo)
    report(progress, 0.8)
    return _tabular_predictions(
        data,
        group,
        progress,
        scores=[data.extra["decile_score"], scores],
        thresholds=[5.0, 0.5],
        model_names=["COMPAS", "Logistic (age, priors)"],
        label_column="two_year_recid",
        score_columns=["decile_score", "logistic_score"],
        source="COMPAS demo (ProPublica two-year data)",
        prediction_names=("low risk", "high risk"),
    )


def adult_demo(
    group: str | list[str] = "sex", progress: ProgressCallback | None = None
) -> Predictions:
    """Adult test split: logistic regression with and without race and sex as features."""
    data = load_tabular("adult")
    train, test = data.subset("train"), data.subset("test")
    report(progress, 0.2)
    scores = []
    blind = [i for i, n in enumerate(data.feature_names) if not n.startswith(("race=", "sex="))]
    for k, columns in enumerate((list(range(len(data.feature_names))), blind)):
        xs, xo = _standardise(train.features[:, columns], test.features[:, columns])
        w = fit_logistic(xs, train.labels)
        scores.append(predict_logistic(w, xo))
        report(progress, 0.2 + 0.4 * (k + 1))
    return _tabular_predictions(
        test,
        group,
        progress,
        scores=scores,
        thresholds=[0.5, 0.5],
        model_names=["Logistic (all features)", "Logistic (without race, sex)"],
        label_column="income",
        score_columns=["score_all", "score_blind"],
        source="UCI Adult demo (test split)",
        prediction_names=("predicted <= 50K", "predicted > 50K"),
    )


def load_demo(
    name: str, group: str | list[str] | None = None, progress: ProgressCallback | None = None
) -> Predictions:
    """One of :data:`DEMOS` by name."""
    if name in DEMOS:
        allowed = demo_group_columns(name)
        asked = [group] if isinstance(group, str) else list(group or [])
        unknown = [g for g in asked if g not in allowed]
        if unknown:
            raise PredictionInputError(
                f"the {name} demo has no group column {unknown[0]!r}: choose one of "
                f"{', '.join(allowed)}"
            )
    if name == "compas":
        return compas_demo(group or demo_group_columns(name)[0], progress)
    if name == "adult":
        return adult_demo(group or demo_group_columns(name)[0], progress)
    raise PredictionInputError(f"demo {name!r} is unknown: choose one of {', '.join(DEMOS)}")


def demo_group_columns(name: str) -> list[str]:
    """The protected attributes a demo can be grouped by; the first is the default."""
    return {"compas": ["race", "sex", "age_cat"], "adult": ["sex", "race"]}[name]


def predictions_from_checkpoint(
    path: str | os.PathLike[str],
    *,
    group: str | list[str] | None = None,
    threshold: float = 0.5,
    progress: ProgressCallback | None = None,
) -> Predictions:
    """Score a workbench classifier checkpoint (or run folder) on its dataset's test split.

    The checkpoint must come from a run with ``data.dataset`` ``compas`` or ``adult``;
    features are standardised with the mean and std the trainer stored with it.
    """
    from backends.checkpoint import CheckpointError, load_model

    try:
        loaded = load_model(path)
    except CheckpointError as exc:
        raise PredictionInputError(str(exc)) from None
    if loaded.kind != "classifier":
        raise PredictionInputError(
            f"{loaded.path} holds a {loaded.kind} model: the evaluation view needs a classifier "
            "trained on compas or adult"
        )
    dataset = str(loaded.meta.get("dataset", ""))
    if dataset not in DEMOS:
        raise PredictionInputError(
            f"{loaded.path} was trained on {dataset or 'an unnamed dataset'!r}, which has no protected "
            "attributes to group by: train the classifier with data.dataset = compas or adult, or "
            "export its predictions to a CSV"
        )
    report(progress, 0.2)
    data: TabularData = load_tabular(dataset).subset("test")
    probs = _positive_probabilities(loaded, data, dataset)
    report(progress, 0.8)
    step = loaded.meta.get("step")
    name = (
        f"{loaded.path.parent.parent.name or 'classifier'} step {step}"
        if step is not None
        else "classifier"
    )
    return _tabular_predictions(
        data,
        group or demo_group_columns(dataset)[0],
        progress,
        scores=[probs.astype(np.float64)],
        thresholds=[threshold],
        model_names=[name],
        label_column="label",
        score_columns=["probability"],
        source=f"{loaded.path} on the {dataset} test split",
    )


def _positive_probabilities(loaded: LoadedModel, data: TabularData, dataset: str) -> np.ndarray:
    """The classifier's probability of the positive class for each row of ``data``.

    Features are standardised with the mean and std the trainer stored with the checkpoint.
    """
    import torch

    from backends.models.classifier import Classifier

    extra = loaded.meta.get("data_extra") or {}
    x = data.features.astype(np.float64)
    if "feature_mean" in extra and "feature_std" in extra:
        mean = np.asarray(extra["feature_mean"], dtype=np.float64)
        std = np.asarray(extra["feature_std"], dtype=np.float64)
        if mean.shape != (x.shape[1],):
            raise PredictionInputError(
                f"{loaded.path} expects {mean.shape[0]} features but {dataset} has {x.shape[1]}: "
                "the checkpoint was trained on a different version of the data; retrain it"
            )
        x = (x - mean) / std
    model = cast(Classifier, loaded.model)
    with torch.no_grad():
        return model.predict_proba(torch.as_tensor(x, dtype=torch.float32))[:, 1].numpy()


def _tabular_predictions(
    data: TabularData,
    group: str | list[str],
    progress: ProgressCallback | None,
    *,
    prediction_names: tuple[str, str] | None = None,
    **models,
) -> Predictions:
    """Predictions on the rows of ``data``, grouped by one protected attribute or several.

    ``models`` are :func:`build_predictions`' keywords for the scores and names; the
    class names come from the dataset.
    """
    groups = [group] if isinstance(group, str) else list(group)
    pred = build_predictions(data.labels, groups={g: data.groups[g] for g in groups}, **models)
    pred.label_names = data.label_names
    if prediction_names is not None:
        pred.prediction_names = prediction_names
    report(progress, 1.0)
    return pred
