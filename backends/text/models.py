"""Language models for text generation: find one by path or demo name, load it with its tokenizer.

Four sources give the same :class:`TextModel` (a model plus the tokenizer it
was trained with):

- a workbench checkpoint (a ``checkpoints/step_N`` folder or a run folder;
  the character tokenizer travels in ``meta.json``);
- a demo shipped in ``resources/demo/gpt-*`` (same format), named by its
  folder name, e.g. ``gpt-shakespeare``;
- a local Hugging Face GPT-2 folder, which becomes a workbench GPT
  (:mod:`backends.text.hf_gpt2`);
- any other local Hugging Face causal LM folder (Llama, Qwen2, Mistral, Phi,
  Gemma, GPT-NeoX, ...), opened with the optional ``transformers`` through
  :mod:`backends.text.hf`.

Every failure is a :class:`~backends.text.errors.GenerationError` that says what
the folder lacks and what to pick instead. Importing this module does not
import torch: the GUI lists the demos while it starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.text.errors import GenerationError

DEMO_PREFIX = "gpt-"


@dataclass
class TextModel:
    """A loaded language model, ready for :func:`backends.text.generation.generate`."""

    model: Any  # a backends.text.language_model.LanguageModel, in eval mode
    tokenizer: Any  # encode(text) -> ids, decode(ids) -> text
    name: str  # short, for column headers
    source: str  # "checkpoint", "demo", "hf-gpt2" or "hf" (any other causal LM)
    path: Path
    architecture: str = "gpt"

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "has_chat_template", False))

    @property
    def context(self) -> int:
        return int(self.model.config.block_size)

    def describe(self) -> str:
        n = self.model.num_parameters()
        size = f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"
        return f"{self.name} ({self.source}, {size} parameters, context {self.context})"


# ---------------------------------------------------------------- demos

def demo_folder(name: str) -> Path | None:
    """The shipped demo folder called ``name`` (e.g. ``gpt-shakespeare``), if there is one."""
    from resources import resource_path

    node = resource_path("demo", name)
    if name.startswith(DEMO_PREFIX) and node.is_dir() and (node / "meta.json").is_file():
        return Path(str(node))
    return None


def demo_names() -> list[str]:
    """Names of the shipped GPT demos, sorted."""
    from resources import resource_path

    root = resource_path("demo")
    if not root.is_dir():
        return []
    return sorted(
        child.name
        for child in root.iterdir()
        if child.name.startswith(DEMO_PREFIX) and (child / "meta.json").is_file()
    )



# ---------------------------------------------------------------- workbench checkpoints


def char_tokenizer(meta: dict[str, Any], where: Path) -> Any:
    """The character tokenizer a checkpoint's ``meta.json`` carries."""
    from backends.data.text import CharTokenizer

    data = meta.get("tokenizer")
    if not data:
        raise GenerationError(
            f"{where}: meta.json has no tokenizer; this checkpoint cannot turn text into tokens"
        )
    try:
        return CharTokenizer.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise GenerationError(f"{where}: meta.json holds an unreadable tokenizer ({exc})") from exc


def load_checkpoint(path: Path, source: str = "checkpoint") -> TextModel:
    """A GPT from a workbench checkpoint folder, run folder or demo folder."""
    from backends.checkpoint import load_model

    try:
        loaded = load_model(path)
    except (OSError, ValueError, KeyError) as exc:
        raise GenerationError(f"{path} could not be loaded: {exc}") from exc
    if loaded.kind != "gpt":
        raise GenerationError(
            f"{path} holds a {loaded.kind!r} model; text generation needs a GPT checkpoint"
        )
    tokenizer = char_tokenizer(loaded.meta, path)
    n_vocab = len(tokenizer) if hasattr(tokenizer, "__len__") else None
    model_vocab = int(loaded.config.vocab_size)  # the config the model was built from
    if n_vocab is not None and n_vocab > model_vocab:
        raise GenerationError(
            f"{path}: the tokenizer has {n_vocab} tokens but the model only {model_vocab}"
        )
    name = path.name
    if name.startswith("step_"):
        name = f"{path.parent.parent.name}/{name}"
    return TextModel(loaded.model.eval(), tokenizer, name, source, path)


# ---------------------------------------------------------------- Hugging Face folders


def is_hf_folder(folder: Path) -> bool:
    """A folder with a ``config.json`` that is not a workbench checkpoint (no ``meta.json``)."""
    return (folder / "config.json").is_file() and not (folder / "meta.json").is_file()


def hf_model_type(folder: Path) -> str | None:
    """The ``model_type`` the folder's ``config.json`` names (None when it names none)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenerationError(f"{folder / 'config.json'} is not readable JSON ({exc})") from exc
    return config.get("model_type") if isinstance(config, dict) else None


def _is_diffusers_folder(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and "_class_name" in config and "model_type" not in config



def load_hf_gpt2_model(folder: Path) -> TextModel:
    """A Hugging Face GPT-2 folder as a workbench GPT (see :mod:`backends.text.hf_gpt2`)."""
    from backends.text.hf_gpt2 import load_hf_gpt2

    model, tokenizer = load_hf_gpt2(folder)
    return TextModel(model, tokenizer, folder.name, "hf-gpt2", folder)


def load_hf_causal_model(
    folder: Path, *, dtype: str | None = None, device: str | None = None
) -> TextModel:
    """Any Hugging Face causal LM folder, with ``transformers`` (see :mod:`backends.text.hf`)."""
    from backends.text.hf import load_hf_causal

    model, tokenizer, model_type = load_hf_causal(folder, dtype=dtype, device=device)
    return TextModel(model, tokenizer, folder.name, "hf", folder, architecture=model_type)


# ---------------------------------------------------------------- one entry point

def load_text_model(
    where: str | Path, *, dtype: str | None = None, device: str | None = None
) -> TextModel:
    """Load a language model from a demo name, a checkpoint/run folder or a Hugging Face folder.

    ``dtype`` (bf16 / fp16 / fp32) and ``device`` apply to Hugging Face causal
    LMs other than GPT-2; by default a GPU is used when present.
    """
    text = str(where)
    demo = demo_folder(text) if "/" not in text else None
    if demo is not None:
        model = load_checkpoint(demo, source="demo")
        model.name = text
        return model
    path = Path(text).expanduser()
    if not path.exists():
        demos = ", ".join(demo_names()) or "none shipped"
        raise GenerationError(
            f"{text} does not exist; give a checkpoint folder, a run folder, a Hugging Face GPT-2 "
            f"folder or a demo name (demos: {demos})"
        )
    if not path.is_dir():
        raise GenerationError(f"{text} is a file; give the folder that holds the model")
    if is_hf_folder(path):
        if _is_diffusers_folder(path):
            raise GenerationError(
                f"{text} holds a diffusers model (an image model); open it in the latent studio"
            )
        if hf_model_type(path) in (None, "gpt2"):
            return load_hf_gpt2_model(path)
        return load_hf_causal_model(path, dtype=dtype, device=device)
    if (path / "meta.json").is_file() or (path / "checkpoints").is_dir():
        return load_checkpoint(path)
    raise GenerationError(
        f"{text} is neither a workbench checkpoint (meta.json + model.safetensors), a run folder "
        "(checkpoints/) nor a Hugging Face model folder (no config.json); give the folder that "
        "holds config.json, the weights and the tokenizer files"
    )
