"""``workbench eval``, the COMPAS demo, and evaluating a workbench classifier checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backends.evaluate.sources import compas_demo, fit_logistic, predictions_from_checkpoint
from workbench.commands import CommandError
from workbench.commands import eval as eval_verb


def main(argv: list[str]) -> int:
    """Run ``workbench eval ...`` as the command line does, without the other verbs."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="workbench eval")
    eval_verb.add_arguments(parser)
    assert argv[0] == "eval"
    args = parser.parse_args(argv[1:])
    args.runs_dir = None
    try:
        return eval_verb.run(args)
    except CommandError as exc:
        print(f"workbench eval: error: {exc}", file=sys.stderr)
        return 2


@pytest.fixture
def prediction_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.2, 1 - y, y)
    b = np.where(rng.random(n) < 0.25, 1 - y, y)
    score = np.round(np.clip(0.5 * y + rng.random(n) * 0.6, 0, 1), 3)
    race = rng.choice(["black", "white"], n)
    sex = rng.choice(["f", "m"], n)
    lines = ["label,pred_a,pred_b,score,race,sex"]
    lines += [
        f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]}"
        for r in zip(y, a, b, score, race, sex, strict=True)
    ]
    path = tmp_path / "preds.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, y, a, b


def test_fairness_json_has_every_group_and_intervals(prediction_csv, capsys):
    path, y, a, _ = prediction_csv
    argv = ["eval", "fairness", str(path), "--label", "label", "--pred", "pred_a"]
    assert main(argv + ["--group", "race", "--group", "sex", "--bootstrap", "300", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["groups"]) == {"black, f", "black, m", "white, f", "white, m"}
    entry = data["groups"]["white, m"]
    for key in ("count", "base_rate", "selection_rate", "tpr", "fpr", "fnr", "ppv", "ci"):
        assert key in entry
    assert data["overall"]["accuracy"] == pytest.approx(np.mean(a == y))
    assert data["bootstrap"]["resamples"] == 300


def test_fairness_from_scores_and_threshold(prediction_csv, capsys):
    path, *_ = prediction_csv
    argv = [
        "eval",
        "fairness",
        str(path),
        "--label",
        "label",
        "--score",
        "score",
        "--threshold",
        "0.5",
    ]
    assert main(argv + ["--group", "race", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["threshold"] == 0.5 and data["bootstrap"] is None


def test_compare_json_has_delta_interval_and_p(prediction_csv, capsys):
    path, y, a, b = prediction_csv
    argv = [
        "eval",
        "compare",
        str(path),
        "--label",
        "label",
        "--pred-a",
        "pred_a",
        "--pred-b",
        "pred_b",
    ]
    assert main(argv + ["--group", "race", "--bootstrap", "2000", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["delta"] == pytest.approx(np.mean(a == y) - np.mean(b == y))
    assert len(data["ci"]) == 2 and 0 <= data["p_value"] <= 1
    assert "p" in data["explanation"]


def test_bad_columns_are_one_line_errors(prediction_csv, capsys):
    path, *_ = prediction_csv
    code = main(
        ["eval", "fairness", str(path), "--label", "labl", "--pred", "pred_a", "--group", "race"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'labl'" in err and "did you mean 'label'" in err
    assert (
        main(
            ["eval", "fairness", str(path), "--label", "label", "--pred", "race", "--group", "sex"]
        )
        == 2
    )
    assert "which one is the positive class" in capsys.readouterr().err


def test_compas_demo_reproduces_propublicas_error_rates():
    pred = compas_demo()
    from backends.evaluate.fairness import evaluate_fairness

    report = evaluate_fairness(pred)
    # ProPublica: black defendants who did not reoffend were labelled high risk about
    # twice as often as white defendants (FPR), the reverse for FNR.
    assert report.value(0, "fpr", "African-American") == pytest.approx(0.423, abs=0.002)
    assert report.value(0, "fpr", "Caucasian") == pytest.approx(0.220, abs=0.002)
    assert report.value(0, "fnr", "Caucasian") > report.value(0, "fnr", "African-American")
    assert 0.64 < report.value(1, "accuracy") < 0.70  # the two-feature model is as accurate


def test_a_classifier_checkpoint_is_scored_on_its_test_split(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from backends.data.tabular import training_arrays
    from backends.models.classifier import Classifier, ClassifierConfig

    x, y = training_arrays("compas")
    mean, std = x.mean(0), x.std(0) + 1e-6
    config = ClassifierConfig(n_features=x.shape[1])
    model = Classifier(config)
    # Logistic regression weights fitted in numpy: class 1's logit, class 0's fixed at 0.
    w = fit_logistic((x - mean) / std, y)
    with torch.no_grad():
        layer = model.net[0]
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[1] = torch.as_tensor(w[1:], dtype=torch.float32)
        layer.bias[1] = float(w[0])
    folder = tmp_path / "run" / "checkpoints" / "step_0000060"
    folder.mkdir(parents=True)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    meta = {
        "model": "classifier",
        "model_config": config.to_dict(),
        "step": 60,
        "dataset": "compas",
        "data_extra": {"feature_mean": mean.tolist(), "feature_std": std.tolist()},
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    pred = predictions_from_checkpoint(tmp_path / "run")
    assert pred.n_rows == round(0.3 * 6172)
    assert "run step 60" in pred.model_names[0]
    accuracy = float(np.mean(pred.pred[0] == pred.label))
    assert 0.6 < accuracy < 0.75
    meta["dataset"] = "breast-cancer"
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="no protected attributes"):
        predictions_from_checkpoint(folder)


def _every_interval_is_honest(data: dict) -> list[str]:
    """Per-group intervals without positive width or not containing their estimate."""
    problems = []
    for name, entry in data["groups"].items():
        for method, intervals in entry["ci"].items():
            for metric, (low, high) in intervals.items():
                value = entry[metric]
                if value is None:
                    continue
                if low is None or high is None or not low < high or not low <= value <= high:
                    problems.append(f"{name} {metric} {method}: {value} [{low}, {high}]")
    return problems


def test_compas_small_groups_get_honest_intervals_marked_wilson(capsys):
    argv = ["eval", "fairness", "--demo", "compas", "--group", "race", "--bootstrap", "2000"]
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert _every_interval_is_honest(data) == []
    # 11 defendants, 5 of whom reoffended, all 5 labelled high risk: a bootstrap
    # interval of TPR would be [1, 1]; the score interval reaches well below 1.
    native = data["groups"]["Native American"]
    assert native["confusion"]["tp"] + native["confusion"]["fn"] == 5
    for metric in ("tpr", "fnr", "npv"):
        low, high = native["ci"]["bca"][metric]
        assert high - low > 0.3, metric
        assert native["interval_method"][metric] == "wilson"
    assert data["groups"]["African-American"]["interval_method"]["tpr"] == "bootstrap"
    assert "Wilson" in data["bootstrap"]["small_counts"]
    # The text output prints [low, high] and marks the score intervals; never ±.
    assert main(argv) == 0
    text = capsys.readouterr().out
    native_line = next(line for line in text.splitlines() if line.startswith("Native American"))
    assert "1.000 [0.566, 1.000]*" in native_line
    assert "±" not in text


def test_a_one_row_group_gets_a_positive_width_interval(tmp_path, capsys):
    rng = np.random.default_rng(4)
    rows = ["label,pred,site"]
    rows += [f"{y},{int(rng.random() < 0.7) if y else 0},main" for y in rng.integers(0, 2, 300)]
    rows.append("1,1,lonely")
    path = tmp_path / "one_row.csv"
    path.write_text("\n".join(rows) + "\n")
    argv = ["eval", "fairness", str(path), "--label", "label", "--pred", "pred", "--group", "site"]
    assert main(argv + ["--bootstrap", "2000", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert _every_interval_is_honest(data) == []
    lonely = data["groups"]["lonely"]
    assert lonely["count"] == 1 and lonely["tpr"] == 1.0
    assert lonely["ci"]["percentile"]["tpr"][0] < 0.5
    assert lonely["fpr"] is None and "no negatives" in lonely["undefined"]["fpr"]


def test_a_metric_undefined_in_every_group_is_reported_not_a_crash(prediction_csv, capsys):
    path, *_ = prediction_csv
    argv = ["eval", "fairness", str(path), "--label", "label", "--score", "score"]
    argv += ["--threshold", "1.5", "--group", "race", "--bootstrap", "200"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ppv is undefined in every group" in text
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["ppv"] is None and data["overall"]["selection_rate"] == 0.0


def test_the_html_report_is_complete_and_its_command_reproduces_it(tmp_path, capsys):
    import shlex

    from backends.evaluate.analysis import analyse
    from backends.evaluate.paired import compare_models
    from backends.evaluate.report_html import reproduce_command, write_html_report
    from backends.evaluate.thresholds import solve_thresholds

    pred = compas_demo("race")
    analysis = analyse(pred, resamples=300, curve_resamples=50, seed=3)
    paired = compare_models(pred, "accuracy", resamples=500)
    solution = solve_thresholds(analysis.score_table, "fpr")
    out = write_html_report(
        tmp_path / "r.html", analysis, paired=paired, solution=solution, version="9.9"
    )
    text = out.read_text()
    for needed in (
        "Provenance", "workbench 9.9", "score &gt;= 5", "Fairness criteria", "80 % rule",
        "2 x 2 tables", "Exact McNemar test", "equal false positive rates", "Native American",
    ):
        assert needed in text, needed
    command = reproduce_command(analysis)
    assert command in text
    argv = shlex.split(command)
    assert main(argv[1:] + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["groups"]["Caucasian"]["fpr"] == analysis.report.value(0, "fpr", "Caucasian")
    # The command evaluates model A alone (the view resamples both models' cells at
    # once), so its intervals agree to Monte-Carlo error, not to the last digit.
    low, high = data["groups"]["Caucasian"]["ci"]["bca"]["fpr"]
    assert (low, high) == pytest.approx(
        analysis.report.interval(0, "fpr", "Caucasian", "bca"), abs=0.01
    )
