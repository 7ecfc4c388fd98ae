"""What runs on the worker for one round: loading models (cached), generating column after
column, scoring.

Nothing here touches a widget (nor imports Qt or torch at import time). A round
is one call on the panel's task slot; what it has to say leaves through the
task runner's ``partial`` callable as the typed messages below, which reach the
panel on the GUI thread in order and are dropped once the round is stopped or
superseded. A column's failure is a :class:`ColumnFailed` message: the other
columns go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_CACHED_MODELS = 4

Partial = Callable[[object], None]
Progress = Callable[[float], None] | None


# ---------------------------------------------------------------- messages to the panel


@dataclass
class ColumnStarted:
    """A column's model read its prompt."""

    column: int
    prompt_ids: list[int] | None  # the ids continued from, when the prompt was ids
    description: str  # the model, for the column's status line
    shown: str | None  # a rendered chat, shown in place of the prompt text
    note: str  # how much of a long prompt was dropped, or ""


@dataclass
class TokenStreamed:
    """A token may be shown in a column (a backends.text.results.GeneratedToken)."""

    column: int
    token: Any


@dataclass
class ColumnFinished:
    """A column's generation ended (a backends.text.results.GenerationResult)."""

    column: int
    result: Any


@dataclass
class ColumnScored:
    """A column's model scored the text (a backends.text.results.TextScore)."""

    column: int
    model_name: str
    score: Any


@dataclass
class ColumnFailed:
    """A column could not generate or score; the message says why and what to do."""

    column: int
    message: str


# ---------------------------------------------------------------- jobs and models


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


# ---------------------------------------------------------------- rounds


def generate_round(
    jobs: list[Job], models: ModelCache, *, partial: Partial, progress: Progress = None
) -> None:
    """Generate each column in turn (one at a time, so their speeds are comparable)."""
    for n, job in enumerate(jobs):

        def column_progress(fraction: float, n: int = n) -> None:
            if progress is not None:
                progress((n + fraction) / len(jobs))

        partial(generate_column(job, models, partial, column_progress))


def generate_column(
    job: Job, models: ModelCache, partial: Partial, progress: Progress
) -> ColumnFinished | ColumnFailed:
    """One column's generation, its tokens streamed as :class:`TokenStreamed` messages."""
    from backends.text.errors import GenerationError
    from backends.text.generation import generate
    from backends.text.language_model import suggested_threads

    try:
        loaded = models.get(job.model_key, job.dtype)
        prompt, shown, note = prompt_for(job, loaded)
        prompt_ids = job.prompt if not isinstance(job.prompt, str) else None
        partial(ColumnStarted(job.column, prompt_ids, loaded.describe(), shown, note))
        result = generate(
            loaded.model,
            loaded.tokenizer,
            prompt,
            job.config,
            on_token=lambda token: partial(TokenStreamed(job.column, token)),
            progress=progress,
            truncate_prompt=job.truncate,
            threads=suggested_threads(loaded.model),
        )
    except GenerationError as exc:
        return ColumnFailed(job.column, str(exc))
    return ColumnFinished(job.column, result)


def score_round(
    text: str,
    keys: list[tuple[int, str]],
    models: ModelCache,
    *,
    partial: Partial,
    progress: Progress = None,
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
            partial(ColumnFailed(column, str(exc)))
            continue
        partial(ColumnScored(column, loaded.name, score))
        if progress is not None:
            progress((n + 1) / len(keys))
