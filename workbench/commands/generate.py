"""``workbench generate``: continue a prompt with a GPT checkpoint, streaming, or score a text."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from workbench.commands import CommandError

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
    parser.add_argument("--prompt", required=True, help="text to continue (or to score)")
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
        help="stop before this text (repeatable; \\n is a newline)",
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
    from backends.generate import (
        GenerationError,
        SamplingConfig,
        generate,
        score_text,
        suggested_threads,
    )
    from backends.text_models import load_text_model

    stops = tuple(s.replace("\\n", "\n").replace("\\t", "\t") for s in args.stop)
    config = SamplingConfig(
        greedy=args.greedy,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        stop=stops,
    )
    try:
        config.validate()
        loaded = load_text_model(_resolve(args.checkpoint, args.runs_dir))
        if args.score:
            return _score(args, loaded, score_text)
        stream = not args.json and sys.stdout.isatty()
        if stream:
            sys.stdout.write(args.prompt)
            sys.stdout.flush()

        def on_token(token) -> None:
            if stream:
                sys.stdout.write(token.text)
                sys.stdout.flush()

        result = generate(
            loaded.model,
            loaded.tokenizer,
            args.prompt,
            config,
            on_token=on_token,
            threads=suggested_threads(loaded.model),
        )
    except GenerationError as exc:
        raise CommandError(str(exc)) from exc

    if args.json:
        print(
            json.dumps(
                {
                    "model": loaded.name,
                    "source": loaded.source,
                    "prompt": args.prompt,
                    **_finite(result.to_dict()),
                },
                indent=1,
            )
        )
        return 0
    if not stream:
        sys.stdout.write(args.prompt + result.text)
    sys.stdout.write("\n")
    sys.stdout.flush()  # the summary goes to stderr and must come after the text
    print(
        f"[{loaded.name} · seed {result.seed} · {result.generated_tokens} tokens · "
        f"{result.tokens_per_s:.1f} tokens/s · first token {result.time_to_first_token_s * 1000:.0f} ms"
        f" · ended by {result.finish_reason}]",
        file=sys.stderr,
    )
    return 0


def _score(args: argparse.Namespace, loaded, score_text) -> int:
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


def _finite(value):
    """JSON has no infinity or NaN: such numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
