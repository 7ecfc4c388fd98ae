"""``workbench eval``: fairness metrics per group and paired model comparisons, headless.

``workbench eval fairness CSV --label COL (--pred COL | --score COL --threshold T)
--group COL [--group COL] [--bootstrap B] [--seed S] [--json]`` prints per-group
rates, the fairness criteria and (with ``--bootstrap``) their intervals.
``workbench eval compare CSV --label COL --pred-a COL --pred-b COL [--metric M]
[--bootstrap B] [--json]`` runs the paired bootstrap test of two models on the same
rows. ``--demo compas`` (or ``adult``) replaces the CSV with shipped demo data.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from workbench.commands import CommandError

VERB = "eval"
HELP = "fairness metrics per group with bootstrap intervals, and paired tests of two models"

_SHOWN = ("count", "base_rate", "selection_rate", "tpr", "fpr", "fnr", "ppv", "accuracy")


def _common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("csv", nargs="?", help="CSV file of predictions, one row per test example")
    sub.add_argument(
        "--demo", choices=("compas", "adult"), help="use shipped demo data instead of a CSV"
    )
    sub.add_argument("--label", help="column of true labels (binary)")
    sub.add_argument(
        "--positive-label", default="", help="the label value that is the positive class"
    )
    sub.add_argument(
        "--group",
        action="append",
        default=[],
        help="group column; repeat for intersectional groups (e.g. --group race --group sex)",
    )
    sub.add_argument(
        "--bootstrap", type=int, default=0, metavar="B", help="bootstrap resamples (0: none)"
    )
    sub.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap (default 0)")
    sub.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    sub.add_argument(
        "--ci-method",
        choices=("bca", "percentile", "basic"),
        default="bca",
        help="interval method (default bca)",
    )
    sub.add_argument("--json", action="store_true", help="print one JSON document")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="eval_action", metavar="ACTION", required=True)
    fairness = actions.add_parser(
        "fairness", help="per-group metrics and fairness criteria of one model"
    )
    _common(fairness)
    fairness.add_argument("--pred", default="", help="column of predicted labels")
    fairness.add_argument("--score", default="", help="column of scores (use with --threshold)")
    fairness.add_argument(
        "--threshold", type=float, default=None, help="predicted positive when score >= T"
    )
    fairness.add_argument(
        "--reference", default=None, help="group others are compared with (default: largest)"
    )
    compare = actions.add_parser("compare", help="paired bootstrap test of model A against model B")
    _common(compare)
    compare.add_argument("--pred-a", default="", help="column of model A's predicted labels")
    compare.add_argument("--pred-b", default="", help="column of model B's predicted labels")
    compare.add_argument(
        "--score-a", default="", help="column of model A's scores (with --threshold)"
    )
    compare.add_argument(
        "--score-b", default="", help="column of model B's scores (with --threshold)"
    )
    compare.add_argument(
        "--threshold", type=float, default=0.5, help="score threshold (default 0.5)"
    )
    compare.add_argument(
        "--metric",
        default="accuracy",
        help="accuracy (default), any rate (tpr, fpr, ppv, ...), RATE:GROUP, RATE_gap or "
        "equalized_odds_difference",
    )
    compare.set_defaults(bootstrap=10_000)


def _progress(enabled: bool):
    if not enabled:
        return None
    state = {"shown": -1}

    def show(fraction: float) -> None:
        percent = int(fraction * 100)
        if percent != state["shown"]:
            state["shown"] = percent
            print(
                f"\rreading {percent:3d}%",
                end="" if percent < 100 else "\n",
                file=sys.stderr,
                flush=True,
            )

    return show


def _load(args: argparse.Namespace, preds: list[tuple[str, str]], threshold: float | None):
    from backends.evaluate.prediction_csv import CsvSelection, predictions_from_csv
    from backends.evaluate.predictions import PredictionInputError
    from backends.evaluate.sources import load_demo

    try:
        if args.demo:
            if args.csv:
                raise CommandError("give either a CSV file or --demo, not both")
            return load_demo(args.demo, args.group or None)
        if not args.csv:
            raise CommandError("give a CSV file of predictions (or --demo compas)")
        if not args.label:
            raise CommandError("give the true-label column with --label")
        if not args.group:
            raise CommandError("give at least one group column with --group")
        for pred, score in preds:
            if score and threshold is None:
                raise CommandError(
                    f"--score {score} needs --threshold T (predicted positive when score >= T)"
                )
            if pred and score:
                raise CommandError(
                    "give either a prediction column or a score column per model, not both"
                )
        (pa, sa), *rest = preds
        pb, sb = rest[0] if rest else ("", "")
        selection = CsvSelection(
            label=args.label,
            groups=list(args.group),
            pred_a=pa,
            score_a=sa,
            threshold_a=threshold if threshold is not None else 0.5,
            pred_b=pb,
            score_b=sb,
            threshold_b=threshold if threshold is not None else 0.5,
            positive_label=args.positive_label,
            model_names=(pa or sa or "model A", pb or sb or "model B"),
        )
        return predictions_from_csv(
            args.csv, selection, progress=_progress(sys.stderr.isatty() and not args.json)
        )
    except PredictionInputError as exc:
        raise CommandError(str(exc)) from None


def _fmt(value: float | None, width: int = 7) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "undef".rjust(width)
    if isinstance(value, int):
        return f"{value:>{width},}"
    return f"{value:>{width}.3f}"


def _interval_text(low: float | None, high: float | None, wilson: bool) -> str:
    """``[low, high]`` (a Wilson score interval marked with ``*``); never a symmetric ``±``."""
    if low is None or high is None:
        return " " * 16
    return f" [{low:.3f}, {high:.3f}]" + ("*" if wilson else " ")


def _print_fairness(report, method: str) -> None:
    data = report.to_dict()
    print(f"{data['source'] or 'predictions'}: {data['rows']:,} rows, model {data['name']}")
    width = 23 if report.resamples else 9
    header = "group".ljust(28) + "".join(m.rjust(9 if m == "count" else width) for m in _SHOWN)
    print(header)
    any_wilson = False
    for name, entry in [*data["groups"].items(), ("overall", data["overall"])]:
        cells = []
        for metric in _SHOWN:
            value = entry[metric]
            text = _fmt(value)
            if report.resamples and metric != "count":
                low, high = entry["ci"][method][metric] if value is not None else (None, None)
                wilson = entry["interval_method"][metric] == "wilson" and value is not None
                any_wilson = any_wilson or wilson
                text = text.strip() + _interval_text(low, high, wilson)
            cells.append(text.rjust(9 if metric == "count" else width))
        print(name[:27].ljust(28) + "".join(cells))
    if report.resamples:
        print(
            f"intervals: {report.confidence:.0%} {method} bootstrap, {report.resamples:,} resamples"
            + ("; * Wilson score interval (few rows in the denominator)" if any_wilson else "")
        )
    criteria = data.get("criteria", {})
    if criteria:
        ind, sep, suf = criteria["independence"], criteria["separation"], criteria["sufficiency"]
        print(
            f"independence: selection-rate gap {_fmt(ind['demographic_parity_difference']).strip()}, "
            f"ratio {_fmt(ind['demographic_parity_ratio']).strip()} "
            f"({_rule_text(ind.get('passes_80_percent_rule'))})"
        )
        print(
            f"separation: TPR gap {_fmt(sep['tpr_difference']).strip()}, FPR gap "
            f"{_fmt(sep['fpr_difference']).strip()}, equalised odds {_fmt(sep['equalized_odds_difference']).strip()}"
        )
        print(
            f"sufficiency: PPV gap {_fmt(suf['ppv_difference']).strip()}, NPV gap {_fmt(suf['npv_difference']).strip()}"
        )
    for warning in data["warnings"]:
        print(f"note: {warning}")


def _rule_text(passes: bool | None) -> str:
    if passes is None:
        return "the 80 % rule is undefined: no group is selected"
    return "passes the 80 % rule" if passes else "fails the 80 % rule"


def _p_text(p: float, resamples: int) -> str:
    if math.isfinite(p) and p * resamples < 1:
        return f"p < {1 / resamples:.1g}"
    return f"p = {p:.4f}"


def run(args: argparse.Namespace) -> int:
    from backends.evaluate.bootstrap import BootstrapError

    if args.bootstrap < 0:
        raise CommandError(
            "--bootstrap must be 0 (no intervals) or a number of resamples, e.g. 2000"
        )
    try:
        if args.eval_action == "fairness":
            return _run_fairness(args)
        return _run_compare(args)
    except BootstrapError as exc:
        raise CommandError(str(exc)) from None


def _run_fairness(args: argparse.Namespace) -> int:
    from backends.evaluate.fairness import evaluate_fairness

    if not args.demo and not (args.pred or args.score):
        raise CommandError(
            "give the model's predicted labels with --pred COL, or scores with --score COL --threshold T"
        )
    pred = _load(args, [(args.pred, args.score)], args.threshold)
    if pred.n_models > 1:
        pred.pred, pred.scores = pred.pred[:1], pred.scores[:1]
        pred.thresholds, pred.model_names = pred.thresholds[:1], pred.model_names[:1]
    methods = [args.ci_method] + [m for m in ("percentile",) if m != args.ci_method]
    report = evaluate_fairness(
        pred,
        resamples=args.bootstrap,
        confidence=args.confidence,
        methods=methods,
        seed=args.seed,
        reference=args.reference,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        _print_fairness(report, args.ci_method)
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    from backends.evaluate.paired import compare_models

    if not args.demo and not ((args.pred_a or args.score_a) and (args.pred_b or args.score_b)):
        raise CommandError(
            "give both models: --pred-a COL --pred-b COL (or --score-a/--score-b with --threshold)"
        )
    if args.bootstrap == 0:
        raise CommandError("the paired test needs resamples: use --bootstrap 10000 (the default)")
    threshold = args.threshold if (args.score_a or args.score_b) else None
    pred = _load(args, [(args.pred_a, args.score_a), (args.pred_b, args.score_b)], threshold)
    result = compare_models(
        pred,
        args.metric,
        resamples=args.bootstrap,
        confidence=args.confidence,
        ci_method=args.ci_method,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
        return 0
    a, b = result.model_names
    print(
        f"{result.description}: {a} {_fmt(result.value_a).strip()}, {b} {_fmt(result.value_b).strip()}"
    )
    print(
        f"delta (A - B) = {result.delta:+.4f}, {result.confidence:.0%} {result.ci_method} interval "
        f"[{result.ci[0]:+.4f}, {result.ci[1]:+.4f}], {_p_text(result.p_value, result.resamples)} "
        f"({result.resamples:,} resamples)"
    )
    if result.mcnemar_p is not None:
        print(f"exact McNemar test (two-sided, cross-check): p = {result.mcnemar_p:.4f}")
    print(result.explanation)
    return 0
