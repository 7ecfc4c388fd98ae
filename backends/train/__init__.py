"""The trainer: config, data order, training objectives, the loop every rank runs, its entry point.

``config`` (the TOML-backed :class:`TrainConfig` and its validation), ``data``
(datasets and the global batch order), ``objectives`` (what a step computes
per model: losses, parts, previews), ``step`` (what a step works with: the
modules, optimizers, autocast, gradient scaler, accumulation and clipping, as
one :class:`~backends.train.step.StepOps`), ``optimizer`` and ``schedule``
(AdamW and its learning rate), ``rng`` (random states for exact resume),
``process`` (joining the process group, stop signals), ``metrics``
(per-rank memory), ``image_grid`` (image previews), ``loop`` (the rank's
training loop), ``__main__`` (what torchrun starts) and ``supervise`` (the
launcher-side process that turns torchrun's outcome into run events).
"""
