"""Evaluation engines: fairness metrics per group, bootstrap intervals, paired tests, thresholds.

- ``predictions``: reading and checking prediction CSVs (label, predictions or
  scores of one or two models, group columns).
- ``metrics``: rates from confusion counts, vectorised over any batch of tables.
- ``bootstrap``: multinomial draws over a table of counts (the row bootstrap at a
  cost that does not grow with rows) and percentile, basic and BCa intervals.
- ``fairness``: per-group rates, between-group differences, ratios and gaps, the
  three criteria, all with intervals; ``paired``: the paired bootstrap test.
- ``scores``: ROC and calibration per group, per-group threshold post-processing.
- ``sources``: demo predictions (COMPAS, Adult) and classifier checkpoints;
  ``analysis``: what the evaluation view computes at once, and its export.
"""
