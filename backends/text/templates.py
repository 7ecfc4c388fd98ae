"""In-context prompt templates: instruction, worked examples and a query, built into one prompt.

A template makes zero-, one- or few-shot prompts from the same parts, so the
number of examples is a setting rather than a retyped prompt::

    Translate to French.            <- instruction

    English: cheese                 <- example 1 (input label + input)
    French: fromage                 <-           (output label + output)

    English: dog                    <- the query
    French:                         <- the model continues from here

Templates are saved as TOML files, one per template, in a folder the caller
chooses; :func:`load_template` refuses a file it cannot read with a message
naming the file and the field.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from backends.fields import unknown_fields

SUFFIX = ".toml"


class TemplateError(ValueError):
    """A template that cannot be used or read; the message names the field or file."""


@dataclasses.dataclass(kw_only=True)
class Example:
    input: str
    output: str


@dataclasses.dataclass(kw_only=True)
class PromptTemplate:
    """The parts of an in-context prompt. ``shots`` = how many examples to use (None: all)."""

    name: str = "untitled"
    instruction: str = ""
    examples: list[Example] = dataclasses.field(default_factory=list)
    query: str = ""
    input_label: str = "Input:"
    output_label: str = "Output:"
    separator: str = "\n\n"
    shots: int | None = None

    def validate(self) -> None:
        if not self.name.strip():
            raise TemplateError("name must not be empty; give the template a name to save it under")
        if self.shots is not None and (
            isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 0
        ):
            raise TemplateError(f"shots must be a whole number >= 0, got {self.shots!r}")
        for i, example in enumerate(self.examples, 1):
            if not example.input.strip() and not example.output.strip():
                raise TemplateError(f"example {i} is empty; fill it in or remove it")

    def used_examples(self) -> list[Example]:
        return self.examples if self.shots is None else self.examples[: self.shots]

    def build(self, query: str | None = None) -> str:
        """The prompt text: instruction, the used examples, then the query and output label."""
        query = self.query if query is None else query
        parts = []
        if self.instruction.strip():
            parts.append(self.instruction.strip())
        for example in self.used_examples():
            parts.append(
                f"{self.input_label} {example.input.strip()}\n{self.output_label} "
                f"{example.output.strip()}"
            )
        # No trailing space after the output label: the model's own first token carries it.
        parts.append(f"{self.input_label} {query.strip()}\n{self.output_label}")
        return self.separator.join(parts)

    def suggested_stop(self) -> str:
        """Where the answer ends: when the model starts a new input of its own."""
        return "\n" + self.input_label

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.shots is None:
            del data["shots"]  # TOML has no null
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTemplate:
        unknown = unknown_fields(cls, data)
        if unknown:
            raise TemplateError(f"unknown template field(s) {', '.join(unknown)}")
        values = dict(data)
        try:
            values["examples"] = [Example(**e) for e in values.get("examples", [])]
        except TypeError as exc:
            raise TemplateError(f"examples need 'input' and 'output' ({exc})") from exc
        for key in ("name", "instruction", "query", "input_label", "output_label", "separator"):
            if key in values and not isinstance(values[key], str):
                raise TemplateError(f"{key} must be text, got {values[key]!r}")
        template = cls(**values)
        template.validate()
        return template


def template_filename(name: str) -> str:
    """A file name for a template name: letters, digits, dashes and underscores."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-").lower()
    return (slug or "template") + SUFFIX


def save_template(template: PromptTemplate, folder: str | Path) -> Path:
    """Write ``template`` into ``folder`` (created if needed); returns the file's path."""
    template.validate()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / template_filename(template.name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(template.to_dict()), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a template
    return path


def load_template(path: str | Path) -> PromptTemplate:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(f"{path} cannot be read as a template ({exc})") from exc
    try:
        return PromptTemplate.from_dict(data)
    except TemplateError as exc:
        raise TemplateError(f"{path}: {exc}") from exc


def list_templates(folder: str | Path) -> list[Path]:
    """Template files in ``folder``, sorted by name (none if the folder does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())
