"""What runs on the worker: loading models (cached), generating column after column, scoring.

Nothing here touches a widget. Each token, result and failure leaves the
worker through a :class:`Bridge` signal carrying the run id it belongs to;
the panel connects them queued, so they are handled on the GUI thread, where
a run id that is no longer current is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

MAX_CACHED_MODELS = 4


class Bridge(QObject):
    """Signals the worker emits; queued onto the GUI thread, where the panel lives.

    Signals
    -------
    sig_started(int, int, object)   run, column, (prompt ids, model description, prompt text
                                    or None, truncation note or "")
    sig_token(int, int, object)     run, column, GeneratedToken
    sig_finished(int, int, object)  run, column, GenerationResult
    sig_failed(int, int, str)       run, column, message
    sig_scored(int, int, object)    run, column, (model name, TextScore)
    """

    sig_started = Signal(int, int, object)
    sig_token = Signal(int, int, object)
    sig_finished = Signal(int, int, object)
    sig_failed = Signal(int, int, str)
    sig_scored = Signal(int, int, object)


@dataclass
class Job:
    """One column's generation: which model, from what, with which sampling settings."""

    column: int
    model_key: str
    prompt: Any  # text, or token ids when continuing
    config: Any  # SamplingConfig
    truncate: bool = True  # a prompt longer than the context loses its oldest tokens, with a note
    messages: list[dict[str, str]] | None = None  # chat mode: rendered with the model's template
    dtype: str | None = None  # Hugging Face models: bf16 / fp16 / fp32, None = automatic


class ModelCache:
    """Loaded models by key; touched only from the worker (one task runs at a time)."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str | None], Any] = {}

    def get(self, key: str, dtype: str | None = None) -> Any:
        from backends.text.models import load_text_model

        slot = (key, dtype)
        if slot not in self._models:
            if len(self._models) >= MAX_CACHED_MODELS:
                self._models.pop(next(iter(self._models)))
            self._models[slot] = load_text_model(key, dtype=dtype)
        model = self._models.pop(slot)
        self._models[slot] = model  # most recently used last
        return model


def prompt_for(job: Job, loaded: Any) -> tuple[Any, str | None, str]:
    """What the model reads for ``job``: (prompt, shown text or None, truncation note).

    In chat mode the conversation is rendered with this model's own template,
    so each column may read it differently; the note says how many of the
    oldest tokens will not fit the context.
    """
    from backends.text.errors import GenerationError
    from backends.text.prompts import encode_prompt, fit_prompt, truncation_note

    shown = None
    prompt = job.prompt
    if job.messages is not None:
        if not loaded.has_chat_template:
            raise GenerationError(
                f"{loaded.name} has no chat template; pick a chat model for this column, "
                "or switch chat off"
            )
        shown = loaded.tokenizer.chat_text(job.messages)
        prompt = loaded.tokenizer.chat_ids(job.messages)
    ids = encode_prompt(loaded.tokenizer, prompt) if isinstance(prompt, str) else list(prompt)
    _, dropped = fit_prompt(ids, loaded.context, getattr(loaded.tokenizer, "bos_id", None))
    return ids, shown, truncation_note(dropped, loaded.context) if job.truncate else ""


def run_jobs(
    jobs: list[Job], models: ModelCache, bridge: Bridge, run: int, progress=None
) -> None:
    """Generate each column in turn (one at a time, so their speeds are comparable)."""
    from backends.text.errors import GenerationError
    from backends.text.generation import generate
    from backends.text.language_model import suggested_threads

    for n, job in enumerate(jobs):

        def column_progress(fraction: float, n: int = n) -> None:
            if progress is not None:
                progress((n + fraction) / len(jobs))

        try:
            loaded = models.get(job.model_key, job.dtype)
            prompt, shown, note = prompt_for(job, loaded)
            prompt_ids = job.prompt if not isinstance(job.prompt, str) else None
            bridge.sig_started.emit(run, job.column, (prompt_ids, loaded.describe(), shown, note))
            result = generate(
                loaded.model,
                loaded.tokenizer,
                prompt,
                job.config,
                on_token=lambda token, c=job.column: bridge.sig_token.emit(run, c, token),
                progress=column_progress,
                truncate_prompt=job.truncate,
                threads=suggested_threads(loaded.model),
            )
        except GenerationError as exc:
            bridge.sig_failed.emit(run, job.column, str(exc))
            continue
        bridge.sig_finished.emit(run, job.column, result)


def score_jobs(
    text: str,
    keys: list[tuple[int, str]],
    models: ModelCache,
    bridge: Bridge,
    run: int,
    progress=None,
    dtype: str | None = None,
) -> None:
    """Score ``text`` with each (column, model key) in turn."""
    from backends.text.errors import GenerationError
    from backends.text.scoring import score_text

    for n, (column, key) in enumerate(keys):
        try:
            loaded = models.get(key, dtype)
            score = score_text(loaded.model, loaded.tokenizer, text)
        except GenerationError as exc:
            bridge.sig_failed.emit(run, column, str(exc))
            continue
        bridge.sig_scored.emit(run, column, (loaded.name, score))
        if progress is not None:
            progress((n + 1) / len(keys))
