"""Evaluation engines: fairness metrics per group, bootstrap intervals, paired tests, thresholds.

- ``predictions``: checking predictions (label, predictions or scores of one or two
  models, group columns); ``prediction_csv``: reading them from a CSV.
- ``metrics``: rates from confusion counts, vectorised over any batch of tables.
- ``bootstrap``: multinomial draws over a table of counts (the row bootstrap at a
  cost that does not grow with rows) and percentile, basic and BCa intervals;
  ``small_counts``: Wilson intervals where counts are few.
- ``cells``: predictions tabulated per group, label and prediction(s);
  ``fairness_statistics``: every reported number as one vector of that table;
  ``fairness``: :func:`evaluate_fairness` (estimates, intervals, warnings);
  ``fairness_report``: reading its values; ``fairness_json``: its export.
- ``paired``: the paired bootstrap test; ``p_values``: its p-values and ties.
- ``scores``: the binned score table, ROC and calibration per group;
  ``thresholds``: per-group threshold post-processing.
- ``sources``: demo predictions (COMPAS, Adult) and classifier checkpoints;
  ``analysis``: what the evaluation view computes at once, and its CSV export;
  ``report_html``: the self-contained HTML report.
"""
