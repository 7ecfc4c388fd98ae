"""Any local Hugging Face causal language model, behind the interface the playground decodes with.

A folder that ``transformers`` loads with ``AutoModelForCausalLM`` and
``AutoTokenizer`` (Llama, Qwen2, Mistral, Phi, Gemma, GPT-NeoX, ...) becomes
a :class:`HFCausalLM` plus a :class:`HFTextTokenizer`, which
:func:`backends.text.generation.generate` and :func:`backends.text.scoring.score_text`
drive exactly as they drive the workbench GPT: ``model(idx, kv_cache=cache,
last_only=True) -> (logits, None)``, ``model.config.block_size`` /
``vocab_size``, ``model.new_kv_cache()``. Decoding streams through the
model's own ``DynamicCache``, one token per step, which is what
``model.generate`` does, so the tokens are the same.

``transformers`` is an optional extra (``pip install 'workbench[hf]'``),
imported only when such a folder is opened. Weights are read from safetensors;
a folder with only pickled weights (``*.bin``) is opened only if every file
loads with ``torch.load(weights_only=True)``, so opening a folder never runs
code stored in it. Every refusal is a :class:`~backends.text.errors.GenerationError`
that says what the folder lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from backends.text.errors import GenerationError

EXTRA = "pip install 'workbench[hf]'"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
# Context when the config names none (max_position_embeddings / n_positions missing).
DEFAULT_CONTEXT = 2048
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def import_transformers() -> Any:
    """The ``transformers`` module, progress bars off; a clear error when it is not installed."""
    try:
        import transformers
    except ImportError as exc:
        raise GenerationError(
            f"opening a Hugging Face model folder needs the optional 'transformers' package; "
            f"install it with: {EXTRA}"
        ) from exc
    # Loading bars on stderr would garble the CLI's output and mean nothing in the GUI.
    transformers.utils.logging.disable_progress_bar()
    return transformers


# ---------------------------------------------------------------- folder checks


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's ``config.json`` as a dict; a missing or broken one is a clear error."""
    path = folder / "config.json"
    if not path.is_file():
        raise GenerationError(
            f"{folder} has no config.json; a Hugging Face model folder holds config.json, "
            "the weights (*.safetensors) and the tokenizer files"
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenerationError(f"{path} is not readable JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise GenerationError(f"{path} does not hold a JSON object")
    return config


def check_architecture(config: dict[str, Any], folder: Path) -> str:
    """The ``model_type``, if ``AutoModelForCausalLM`` knows it; else an error naming it."""
    model_type = config.get("model_type")
    if not model_type:
        raise GenerationError(
            f"{folder / 'config.json'} names no model_type; it is not a transformers model config"
        )
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        examples = "llama, qwen2, mistral, phi3, gemma, gpt_neox, gpt2"
        raise GenerationError(
            f"{folder} holds a {model_type!r} model, which is not a causal language model "
            f"transformers can generate with (AutoModelForCausalLM knows e.g. {examples})"
        )
    return str(model_type)


def check_weights(folder: Path) -> bool:
    """True for safetensors weights; False for pickled ones that load with ``weights_only``.

    Anything else is refused: no weights, or a pickle that needs code to load.
    """
    if any(folder.glob("*.safetensors")):
        return True
    pickled = sorted(p for ext in ("*.bin", "*.pt", "*.pth") for p in folder.glob(ext))
    if not pickled:
        raise GenerationError(
            f"{folder} has no weights (*.safetensors or pytorch_model.bin); copy the model's "
            "weight files into the folder"
        )
    for path in pickled:
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # the unpickler raises many types; all mean "not safe"
            raise GenerationError(
                f"{path.name} is a pickle that does not load with weights_only=True, so opening "
                f"it could run code; convert the weights to safetensors ({exc.__class__.__name__})"
            ) from exc
    return False


def check_tokenizer_files(folder: Path) -> None:
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise GenerationError(
            f"{folder} has no tokenizer (tokenizer.json, tokenizer.model or vocab.json); "
            "copy the tokenizer files that came with the model into the folder"
        )


# ---------------------------------------------------------------- tokenizer


class HFTextTokenizer:
    """A transformers tokenizer with the interface generation needs, plus its chat template.

    ``encode`` adds the tokenizer's special tokens (a Llama prompt starts with
    its BOS, as ``tokenizer(text)`` does). ``decode`` of a piece is decoded
    after an anchor token and the anchor's text removed: SentencePiece
    tokenizers drop the leading space of a text's first word, so decoding
    tokens one by one would glue words together.
    """

    def __init__(self, tokenizer: Any, eos_ids: set[int]) -> None:
        self.hf = tokenizer
        self.eos_ids = frozenset(int(i) for i in eos_ids if i is not None)
        self.eos_id = min(self.eos_ids) if self.eos_ids else None
        bos = tokenizer.bos_token_id
        self.bos_id = int(bos) if bos is not None else self.eos_id
        # Any ordinary token will do as the anchor; "a" may encode as ["▁", "a"]: take the last.
        special = set(getattr(tokenizer, "all_special_ids", ()) or ())
        anchor = [i for i in tokenizer.encode("a", add_special_tokens=False) if i not in special]
        self._anchor = anchor[-1] if anchor else None
        self._anchor_text = self._plain_decode([self._anchor]) if self._anchor is not None else ""

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.hf, "chat_template", None))

    def encode(self, text: str) -> list[int]:
        return list(self.hf(text, add_special_tokens=True)["input_ids"])

    def _plain_decode(self, ids: list[int]) -> str:
        return self.hf.decode(
            list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def decode(self, ids: list[int]) -> str:
        ids = [int(i) for i in ids]
        if self._anchor is None or not ids:
            return self._plain_decode(ids)
        full = self._plain_decode([self._anchor, *ids])
        if full.startswith(self._anchor_text):
            return full[len(self._anchor_text) :]
        return self._plain_decode(ids)

    def chat_text(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The conversation rendered with the model's own chat template."""
        if not self.has_chat_template:
            raise GenerationError(
                "this model's tokenizer has no chat template; use plain prompts, or pick a chat "
                "(instruct) model"
            )
        try:
            return self.hf.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
        except Exception as exc:  # jinja raises its own errors (e.g. "roles must alternate")
            raise GenerationError(f"the chat template refused this conversation: {exc}") from exc

    def chat_ids(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> list[int]:
        """Token ids of the rendered conversation; the template writes its own special tokens."""
        text = self.chat_text(messages, add_generation_prompt)
        return list(self.hf(text, add_special_tokens=False)["input_ids"])


# ---------------------------------------------------------------- model


class HFCache:
    """The model's own ``DynamicCache``; ``reset`` starts an empty one."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self.cache: Any = None
        self.reset()

    def reset(self) -> None:
        from transformers import DynamicCache

        try:
            self.cache = DynamicCache(config=self._config)
        except TypeError:  # transformers < 4.56 builds its layers lazily, without the config
            self.cache = DynamicCache()


@dataclass(frozen=True)
class ModelSizes:
    """What generation reads from ``model.config``: the context and the vocabulary size."""

    block_size: int
    vocab_size: int


class HFCausalLM(torch.nn.Module):
    """A transformers causal LM called the way the workbench GPT is called."""

    def __init__(self, hf: Any, context: int) -> None:
        super().__init__()
        self.hf = hf
        head = hf.get_output_embeddings()
        vocab = int(head.weight.shape[0]) if head is not None else int(hf.config.vocab_size)
        self.config = ModelSizes(block_size=int(context), vocab_size=vocab)
        import inspect

        params = inspect.signature(hf.forward).parameters
        # transformers 5.x calls the cache argument ``cache``; older releases ``past_key_values``.
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._keeps = "logits_to_keep" in params

    def new_kv_cache(self) -> HFCache:
        return HFCache(self.hf.config)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.hf.parameters())

    def forward(
        self, idx: torch.Tensor, kv_cache: HFCache | None = None, last_only: bool = False
    ) -> tuple[torch.Tensor, None]:
        kwargs: dict[str, Any] = {"input_ids": idx, "use_cache": kv_cache is not None}
        if kv_cache is not None:
            kwargs[self._cache_arg] = kv_cache.cache
        if last_only and self._keeps:
            kwargs["logits_to_keep"] = 1
        out = self.hf(**kwargs)
        return out.logits, None


def context_length(config: Any, tokenizer: Any = None) -> int:
    """The model's context: from its config, else the tokenizer's limit, else a default."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**7:
        return limit
    return DEFAULT_CONTEXT


def pick_device(device: str | None = None) -> torch.device:
    """The device asked for; by default a GPU when there is one."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(dtype: str | None, device: torch.device) -> torch.dtype:
    """bf16 / fp16 / fp32 by name; by default bf16 on a GPU that has it, else fp32."""
    if dtype:
        if dtype not in DTYPES:
            raise GenerationError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        return DTYPES[dtype]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_hf_causal(
    folder: Path, *, dtype: str | None = None, device: str | None = None
) -> tuple[HFCausalLM, HFTextTokenizer, str]:
    """Model, tokenizer and ``model_type`` of a local folder; no network, no code from the folder."""
    folder = Path(folder)
    config = read_config(folder)
    transformers = import_transformers()
    model_type = check_architecture(config, folder)
    check_tokenizer_files(folder)
    safetensors = check_weights(folder)
    where = pick_device(device)
    torch_dtype = pick_dtype(dtype, where)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # tokenizer classes raise many types; the message is what matters
        raise GenerationError(f"{folder}: the tokenizer could not be read ({exc})") from exc
    try:
        hf = transformers.AutoModelForCausalLM.from_pretrained(
            str(folder),
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=safetensors,
            dtype=torch_dtype,
        )
    except Exception as exc:
        raise GenerationError(
            f"{folder} could not be loaded as a {model_type} model: {exc}"
        ) from exc
    hf = hf.to(where).eval()
    eos = {tokenizer.eos_token_id}
    generation_eos = getattr(getattr(hf, "generation_config", None), "eos_token_id", None)
    if isinstance(generation_eos, int):
        eos.add(generation_eos)
    elif isinstance(generation_eos, list | tuple):
        eos.update(generation_eos)
    text_tokenizer = HFTextTokenizer(tokenizer, {i for i in eos if i is not None})
    model = HFCausalLM(hf, context_length(hf.config, tokenizer)).eval()
    if text_tokenizer.vocab_size > model.config.vocab_size:
        raise GenerationError(
            f"{folder}: the tokenizer has {text_tokenizer.vocab_size} tokens but the model only "
            f"{model.config.vocab_size}; the tokenizer files belong to another model"
        )
    return model, text_tokenizer, model_type
