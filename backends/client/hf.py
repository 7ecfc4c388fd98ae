"""A Hugging Face ``Trainer`` callback that logs through the client and honours Stop.

    from backends.client.hf import WorkbenchCallback

    trainer = Trainer(..., callbacks=[WorkbenchCallback()])

Every process of the Trainer opens its rank's run (``backends.client.init``)
when training begins: the Trainer's logs go to ``train`` records (``eval_*``
to ``val``, the end-of-training totals to ``summary``), per-rank memory is
sampled as for any script (the Trainer's model and optimizer counted), each
checkpoint the Trainer saves is recorded, and when Stop is pressed (or
SIGTERM arrives) the step ends with ``control.should_save`` and
``control.should_training_stop``: the Trainer saves a checkpoint and returns,
and the run ends ``stopped`` naming it.

``transformers`` is imported only when the callback class is first used, so
importing this module costs nothing and the rest of the workbench never needs it.
"""

from __future__ import annotations

import os
from typing import Any

_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second",
                 "total_flos", "train_loss")
_class: type | None = None


def _plain_args(args: Any) -> dict[str, Any]:
    """The TrainingArguments that fit a config file (numbers, text, flags)."""
    return {k: v for k, v in args.to_dict().items()
            if isinstance(v, bool | int | float | str) and not k.startswith("_") and "token" not in k}


def _sort_logs(logs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Trainer's numbers as (record kind, values): ``summary``, or ``train`` then ``val``.

    The end-of-training totals make one ``summary``; otherwise ``eval_*`` go to
    ``val`` (prefix dropped), the rest to ``train`` (``learning_rate`` as ``lr``);
    an empty kind is left out.
    """
    numbers = {k: v for k, v in logs.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    if any(key in _SUMMARY_KEYS for key in numbers):  # the totals at the end of train()
        return [("summary", numbers)]
    train: dict[str, Any] = {}
    val: dict[str, Any] = {}
    for key, value in numbers.items():
        if key.startswith("eval_"):
            val[key[len("eval_"):]] = value
        else:
            train["lr" if key == "learning_rate" else key] = value
    return [(kind, values) for kind, values in (("train", train), ("val", val)) if values]


def _build() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError as exc:
        raise ImportError("the Trainer callback needs transformers: pip install transformers") from exc

    from backends import client

    class WorkbenchCallback(TrainerCallback):
        """Logs a Trainer's logs and memory into its workbench run; Stop saves and ends it."""

        def __init__(self, run: client.Run | None = None, **init_kwargs: Any) -> None:
            self.run = run
            self.init_kwargs = init_kwargs
            self.last_checkpoint: str | None = None

        def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
            if self.run is None:
                self.init_kwargs.setdefault("steps", state.max_steps or None)
                self.init_kwargs.setdefault("config", _plain_args(args))
                self.run = client.init(**self.init_kwargs)
            watched = [m for m in (model, optimizer) if m is not None]
            if watched:
                self.run.watch(*watched)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.run is None or not logs:
                return
            step = int(state.global_step)
            for kind, values in _sort_logs(logs):
                if kind == "summary":
                    self.run._log(step, "summary", values)
                elif kind == "train":
                    self.run.log(step, **values)
                else:
                    self.run.log_eval(step, **values)

        def on_step_end(self, args, state, control, **kwargs):
            if self.run is not None and self.run.should_stop():
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_save(self, args, state, control, **kwargs):
            if self.run is not None:
                path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
                self.last_checkpoint = path
                self.run.checkpoint(int(state.global_step), path)

        def on_train_end(self, args, state, control, **kwargs):
            if self.run is not None:
                self.run.finish(step=int(state.global_step))

    return WorkbenchCallback


def __getattr__(name: str) -> Any:
    global _class
    if name == "WorkbenchCallback":
        if _class is None:
            _class = _build()
        return _class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
