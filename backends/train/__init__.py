"""The trainer: config, data order, per-model steps, the loop every rank runs, its entry point.

``config`` (the TOML-backed :class:`TrainConfig` and its validation), ``data``
(datasets and the global batch order), ``tasks`` (what a step means per
model), ``metrics`` (per-rank memory), ``loop`` (the rank's training loop),
``__main__`` (what torchrun starts) and ``supervise`` (the launcher-side
process that turns torchrun's outcome into run events).
"""
