"""``workbench generate``: continue a prompt with a GPT checkpoint, streaming, or score a text."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.commands import CommandError

if TYPE_CHECKING:
    from backends.text.models import TextModel
    from backends.text.results import GeneratedToken, GenerationResult
    from backends.text.sampling import SamplingConfig

VERB = "generate"
HELP = (
    "continue a prompt with a GPT checkpoint, demo or GPT-2 folder (or score a text's perplexity)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="checkpoint folder, run folder or run name, Hugging Face GPT-2 folder, "
        "or a shipped demo name (e.g. gpt-kjv)",
    )
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--prompt", help="text to continue (or to score)")
    given.add_argument(
        "--chat",
        metavar="JSON",
        help='a conversation to answer, as a JSON list of {"role", "content"} messages '
        "(system, user, assistant); rendered with the model's own chat template",
    )
    parser.add_argument(
        "--dtype",
        choices=("bf16", "fp16", "fp32"),
        default=None,
        help="weights' type for Hugging Face models (default: bf16 on a GPU, fp32 on the CPU)",
    )
    parser.add_argument(
        "--device", default=None, help="e.g. cpu or cuda:0 (default: a GPU when there is one)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=200, metavar="N")
    parser.add_argument(
        "--temperature", type=float, default=1.0, metavar="T", help="0 means greedy (default 1.0)"
    )
    parser.add_argument("--top-k", type=int, default=0, metavar="K", help="0 = off (default)")
    parser.add_argument("--top-p", type=float, default=1.0, metavar="P", help="1.0 = off (default)")
    parser.add_argument(
        "--repetition-penalty", type=float, default=1.0, metavar="R", help="1.0 = off (default)"
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="default: a fresh one")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    parser.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop before this text (repeatable, one per string, used exactly as given: no "
        "spaces trimmed; \\n is a newline, \\t a tab)",
    )
    parser.add_argument(
        "--score",
        action="store_true",
        help="do not generate: print the prompt's per-token surprise, total bits and perplexity",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _resolve(where: str, runs_dir: Path) -> str:
    """A run name typed on its own means that run in the runs folder."""
    if not Path(where).expanduser().exists() and (runs_dir / where).is_dir():
        return str(runs_dir / where)
    return where


def run(args: argparse.Namespace) -> int:
    from backends.text.errors import GenerationError
    from backends.text.models import load_text_model

    config = _sampling_config(args)
    try:
        config.validate()
        loaded = load_text_model(
            _resolve(args.checkpoint, args.runs_dir), dtype=args.dtype, device=args.device
        )
        prompt: str | list[int] = args.prompt
        if args.chat is not None:
            if args.score:
                raise CommandError("--score takes --prompt, not --chat")
            # Token ids, not text: the template writes its own special tokens (encoding the
            # text again could add a second BOS).
            args.prompt, prompt = chat_prompt(loaded, parse_chat(args.chat))
        if args.score:
            return _score(args, loaded)
        result = _generate(args, loaded, prompt, config)
    except GenerationError as exc:
        raise CommandError(str(exc)) from exc
    _print_result(args, loaded, result)
    return 0


def _sampling_config(args: argparse.Namespace) -> SamplingConfig:
    """The sampling settings as given (not yet validated)."""
    from backends.text.sampling import SamplingConfig

    stops = tuple(s.replace("\\n", "\n").replace("\\t", "\t") for s in args.stop)
    return SamplingConfig(
        greedy=args.greedy,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        stop=stops,
    )


def _streams(args: argparse.Namespace) -> bool:
    """Tokens are written as they come only to a terminal, and never with --json."""
    return not args.json and sys.stdout.isatty()


def _generate(
    args: argparse.Namespace, loaded: TextModel, prompt: str | list[int], config: SamplingConfig
) -> GenerationResult:
    """Generate, writing the prompt and then each token to a terminal as it comes."""
    from backends.text.generation import generate
    from backends.text.language_model import suggested_threads

    stream = _streams(args)
    if stream:
        sys.stdout.write(args.prompt)
        sys.stdout.flush()

    def on_token(token: GeneratedToken) -> None:
        if stream:
            sys.stdout.write(token.text)
            sys.stdout.flush()

    return generate(
        loaded.model,
        loaded.tokenizer,
        prompt,
        config,
        on_token=on_token,
        threads=suggested_threads(loaded.model),
    )


def _print_result(args: argparse.Namespace, loaded: TextModel, result: GenerationResult) -> None:
    """The JSON document, or the text (unless streamed) and a summary line on stderr."""
    if args.json:
        document = {"model": loaded.name, "source": loaded.source, "prompt": args.prompt}
        print(json.dumps({**document, **_finite(result.to_dict())}, indent=1))
        return
    if result.note:
        print(f"[{result.note}]", file=sys.stderr)
    if not _streams(args):
        sys.stdout.write(args.prompt + result.text)
    sys.stdout.write("\n")
    sys.stdout.flush()  # the summary goes to stderr and must come after the text
    print(
        f"[{loaded.name} · seed {result.seed} · {result.generated_tokens} tokens · "
        f"{result.tokens_per_s:.1f} tokens/s · first token {result.time_to_first_token_s * 1000:.0f} ms"
        f" · ended by {result.finish_reason}]",
        file=sys.stderr,
    )


def parse_chat(raw: str) -> list[dict[str, str]]:
    """The ``--chat`` JSON as a message list; anything else is a one-line usage error."""
    try:
        messages = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--chat is not valid JSON ({exc})") from exc
    ok = isinstance(messages, list) and messages
    for message in messages if ok else ():
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            ok = False
    if not ok:
        raise CommandError(
            '--chat needs a JSON list of messages like [{"role": "user", "content": "Hi"}] '
            "(roles: system, user, assistant)"
        )
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def chat_prompt(loaded: TextModel, messages: list[dict[str, str]]) -> tuple[str, list[int]]:
    """The conversation rendered with the model's chat template (text, token ids)."""
    from backends.text.errors import GenerationError

    if not loaded.has_chat_template:
        raise GenerationError(
            f"{loaded.name} has no chat template; use --prompt, or pick a chat (instruct) model"
        )
    return loaded.tokenizer.chat_text(messages), loaded.tokenizer.chat_ids(messages)


def _score(args: argparse.Namespace, loaded: TextModel) -> int:
    """Print the prompt's per-token surprise, total bits and perplexity (or one JSON document)."""
    from backends.text.scoring import score_text

    score = score_text(loaded.model, loaded.tokenizer, args.prompt)
    if args.json:
        print(json.dumps({"model": loaded.name, **_finite(score.to_dict())}, indent=1))
        return 0
    for token in score.tokens:
        print(f"{token.text!r:>12} {token.bits:7.2f} bits")
    print(
        f"{len(score.tokens)} tokens · {score.total_bits:.1f} bits in all · "
        f"{score.bits_per_token:.3f} bits/token · perplexity {score.perplexity:.3f}"
    )
    return 0


def _finite(value: Any) -> Any:
    """JSON has no infinity or NaN: such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
