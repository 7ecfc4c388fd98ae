"""Language models for text generation: find one by path or demo name, load it with its tokenizer.

Three sources give the same :class:`TextModel` (a GPT plus the tokenizer it was
trained with):

- a workbench checkpoint (a ``checkpoints/step_N`` folder or a run folder;
  the character tokenizer travels in ``meta.json``);
- a demo shipped in ``resources/demo/gpt-*`` (same format), named by its
  folder name, e.g. ``gpt-shakespeare``;
- a local Hugging Face GPT-2 folder (``config.json``, weights, and
  ``tokenizer.json`` or ``vocab.json`` + ``merges.txt``); its byte-level BPE
  tokenizer is read with the optional ``tokenizers`` package, and the weights
  become a workbench GPT (the fast decoding path);
- any other local Hugging Face causal LM folder (Llama, Qwen2, Mistral, Phi,
  Gemma, GPT-NeoX, ...), opened with the optional ``transformers`` through
  :mod:`backends.hf_causal`.

Every failure is a :class:`~backends.generate.GenerationError` that says what
the folder lacks and what to pick instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_PREFIX = "gpt-"
HF_EOS = "<|endoftext|>"


@dataclass
class TextModel:
    """A loaded language model, ready for :func:`backends.generate.generate`."""

    model: Any  # backends.models.gpt.GPT, in eval mode
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


def _error(message: str) -> Exception:
    """A :class:`~backends.generate.GenerationError`, imported only when one is raised: listing
    demos must not import torch (the GUI lists them while it starts)."""
    from backends.generate import GenerationError

    return GenerationError(message)


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


# ---------------------------------------------------------------- Hugging Face GPT-2


def is_hf_gpt2_folder(folder: Path) -> bool:
    """A folder with a ``config.json`` that is not a workbench checkpoint (no ``meta.json``)."""
    return (folder / "config.json").is_file() and not (folder / "meta.json").is_file()


class HFTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer with the small interface generation needs."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.eos_id: int | None = tokenizer.token_to_id(HF_EOS)
        # GPT-2 starts an empty prompt with its end-of-text token, as transformers does.
        self.bos_id = self.eos_id

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)


def load_hf_tokenizer(folder: Path) -> HFTokenizer:
    """The byte-level BPE tokenizer of a Hugging Face GPT-2 folder."""
    try:
        import tokenizers
    except ImportError as exc:
        raise _error(
            "reading a Hugging Face tokenizer needs the optional 'tokenizers' package; "
            "install it with: pip install 'workbench[hf]'"
        ) from exc
    single = folder / "tokenizer.json"
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    try:
        if single.is_file():
            return HFTokenizer(tokenizers.Tokenizer.from_file(str(single)))
        if vocab.is_file() and merges.is_file():
            return HFTokenizer(tokenizers.ByteLevelBPETokenizer(str(vocab), str(merges)))
    except Exception as exc:  # the library raises its own exception types
        raise _error(f"{folder}: the tokenizer files could not be read ({exc})") from exc
    raise _error(
        f"{folder} has no tokenizer.json, nor vocab.json + merges.txt; "
        "copy the tokenizer files that came with the model into the folder"
    )


def load_hf_gpt2(folder: Path) -> TextModel:
    from backends.models.gpt import from_hf_gpt2

    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, json.JSONDecodeError) as exc:
        raise _error(f"{folder / 'config.json'} is not readable JSON ({exc})") from exc
    if model_type not in (None, "gpt2"):
        raise _error(
            f"{folder} holds a {model_type!r} model, not GPT-2; pick a GPT-2 folder "
            "or a workbench checkpoint"
        )
    tokenizer = load_hf_tokenizer(folder)
    try:
        model = from_hf_gpt2(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise _error(f"{folder} is not a usable GPT-2 checkpoint: {exc}") from exc
    if tokenizer.vocab_size > model.config.vocab_size:
        raise _error(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{model.config.vocab_size}; the tokenizer files belong to another model"
        )
    return TextModel(model.eval(), tokenizer, folder.name, "hf-gpt2", folder)


# ---------------------------------------------------------------- workbench checkpoints


def _char_tokenizer(meta: dict[str, Any], where: Path) -> Any:
    from backends.data.text import CharTokenizer

    data = meta.get("tokenizer")
    if not data:
        raise _error(
            f"{where}: meta.json has no tokenizer; this checkpoint cannot turn text into tokens"
        )
    try:
        return CharTokenizer.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise _error(f"{where}: meta.json holds an unreadable tokenizer ({exc})") from exc


def load_checkpoint(path: Path, source: str = "checkpoint") -> TextModel:
    """A GPT from a workbench checkpoint folder, run folder or demo folder."""
    from backends.checkpoint import load_model

    try:
        loaded = load_model(path)
    except (OSError, ValueError, KeyError) as exc:
        raise _error(f"{path} could not be loaded: {exc}") from exc
    if loaded.kind != "gpt":
        raise _error(
            f"{path} holds a {loaded.kind!r} model; text generation needs a GPT checkpoint"
        )
    tokenizer = _char_tokenizer(loaded.meta, path)
    n_vocab = len(tokenizer) if hasattr(tokenizer, "__len__") else None
    if n_vocab is not None and n_vocab > loaded.model.config.vocab_size:
        raise _error(
            f"{path}: the tokenizer has {n_vocab} tokens but the model only "
            f"{loaded.model.config.vocab_size}"
        )
    name = path.name
    if name.startswith("step_"):
        name = f"{path.parent.parent.name}/{name}"
    return TextModel(loaded.model.eval(), tokenizer, name, source, path)


# ---------------------------------------------------------------- one entry point


def _hf_model_type(folder: Path) -> str | None:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(f"{folder / 'config.json'} is not readable JSON ({exc})") from exc
    return config.get("model_type") if isinstance(config, dict) else None


def _is_diffusers_folder(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and "_class_name" in config and "model_type" not in config


def load_hf_causal_model(
    folder: Path, *, dtype: str | None = None, device: str | None = None
) -> TextModel:
    """Any Hugging Face causal LM folder, with ``transformers`` (see :mod:`backends.hf_causal`)."""
    from backends.hf_causal import load_hf_causal

    model, tokenizer, model_type = load_hf_causal(folder, dtype=dtype, device=device)
    return TextModel(model, tokenizer, folder.name, "hf", folder, architecture=model_type)


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
        raise _error(
            f"{text} does not exist; give a checkpoint folder, a run folder, a Hugging Face GPT-2 "
            f"folder or a demo name (demos: {demos})"
        )
    if not path.is_dir():
        raise _error(f"{text} is a file; give the folder that holds the model")
    if is_hf_gpt2_folder(path):
        if _is_diffusers_folder(path):
            raise _error(
                f"{text} holds a diffusers model (an image model); open it in the latent studio"
            )
        if _hf_model_type(path) in (None, "gpt2"):
            return load_hf_gpt2(path)
        return load_hf_causal_model(path, dtype=dtype, device=device)
    if (path / "meta.json").is_file() or (path / "checkpoints").is_dir():
        return load_checkpoint(path)
    raise _error(
        f"{text} is neither a workbench checkpoint (meta.json + model.safetensors), a run folder "
        "(checkpoints/) nor a Hugging Face model folder (no config.json); give the folder that "
        "holds config.json, the weights and the tokenizer files"
    )


# ---------------------------------------------------------------- does a prompt fit?


@dataclass
class PromptFit:
    """How a prompt fits a model's context: its tokens, the context and what would be dropped."""

    tokens: int
    context: int
    dropped: int

    @property
    def note(self) -> str:
        from backends.generate import truncation_note

        if self.dropped:
            return truncation_note(self.dropped, self.context)
        return f"{self.tokens} tokens; fits the context of {self.context}"


def _prompt_reader(where: str) -> tuple[Any, int]:
    """(tokenizer, context) without loading weights where that is possible (any Hugging Face
    folder other than GPT-2 reads only its tokenizer and config)."""
    path = Path(where).expanduser()
    if path.is_dir() and is_hf_gpt2_folder(path) and _hf_model_type(path) not in (None, "gpt2"):
        from backends.hf_causal import HFTextTokenizer, _transformers, context_length

        transformers = _transformers()
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # any reader failure: one line
            raise _error(f"{path}: the tokenizer or config could not be read ({exc})") from exc
        return HFTextTokenizer(tok, {tok.eos_token_id}), context_length(config, tok)
    loaded = load_text_model(where)
    return loaded.tokenizer, loaded.context


def measure_prompt(where: str | Path, text: str) -> PromptFit:
    """Tokens of ``text`` for the model at ``where`` and how many a generation would drop."""
    from backends.generate import encode_prompt, fit_prompt

    tokenizer, context = _prompt_reader(str(where))
    ids = encode_prompt(tokenizer, text)
    _, dropped = fit_prompt(ids, context, getattr(tokenizer, "bos_id", None))
    return PromptFit(len(ids), context, dropped)
