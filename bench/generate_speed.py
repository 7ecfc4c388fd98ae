"""Generation speed: the playground's decoding paths against ``transformers`` ``generate``.

Two models, randomly initialised by transformers, each on the same threads,
for the same prompt and number of new tokens:

- **GPT-2** (``--size small``: 124 M): the weights are loaded into the
  workbench GPT with ``from_hf_gpt2``, the playground's fast path (goal:
  >= 1.5x ``transformers.generate``, greedy and sampling);
- **Llama** (~100 M: 12 layers, width 768, 4 key/value heads, vocab 32 000,
  tied embeddings): the transformers model itself behind
  :class:`backends.text.hf.HFCausalLM`, the path every other Hugging Face
  folder takes (goal: >= 1.0x).

Ours includes what the playground needs per token: raw and sampled
probabilities, top-5 alternatives, the entropy and the incremental decoding
of the text. Also printed: the KV cache against recomputing the whole window
(GPT-2, goal >= 4x) and the time to first token.

Load on a shared machine drifts during a run, so every comparison runs in
interleaved rounds (a b, b a, a b, ...): each round's ratio compares two runs
made side by side, the ratio printed is the median of the rounds' ratios, and
the spread (lowest and highest round) is printed beside it, so one run says
whether the answer holds.

Run by hand (needs ``pip install transformers``)::

    python bench/generate_speed.py                       # both models, 9 rounds
    python bench/generate_speed.py --models llama --rounds 15
    python bench/generate_speed.py --size tiny --new-tokens 32   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {
    "small": dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, n_positions=1024),
    "tiny": dict(n_layer=4, n_head=4, n_embd=256, vocab_size=50257, n_positions=512),
}
LLAMA_SIZES = {
    "small": dict(
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        vocab_size=32000,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    ),
    "tiny": dict(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=32000,
        max_position_embeddings=512,
        tie_word_embeddings=True,
    ),
}


class IdTokenizer:
    """Decodes ids to text one character per id (speed only; no vocabulary files needed)."""

    eos_id = None

    def decode(self, ids):
        return "".join(chr(0x4E00 + (i % 20000)) for i in ids)


def best_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def paired_times(fn_a, fn_b, repeats: int) -> tuple[list[float], list[float], object, object]:
    """Times of ``fn_a`` and ``fn_b`` run in alternating rounds (a b, b a, a b, ...).

    On a shared machine the load drifts over a run; timing all of one side
    and then all of the other would charge that drift to one of them. In
    rounds, both see the same load, and each round's ratio is a fair one.
    """
    fns = (fn_a, fn_b)
    times: tuple[list[float], list[float]] = ([], [])
    outs: list[object] = [None, None]
    for i in range(repeats):
        for side in (0, 1) if i % 2 == 0 else (1, 0):
            start = time.perf_counter()
            outs[side] = fns[side]()
            times[side].append(time.perf_counter() - start)
    return times[0], times[1], outs[0], outs[1]


def ratio_row(label: str, n: int, times_ours: list[float], times_hf: list[float], same: bool):
    """One printed row: tokens/s of both, the median of per-round ratios and their spread."""
    ratios = sorted(h / o for h, o in zip(times_hf, times_ours, strict=True))
    return (
        label,
        n / statistics.median(times_ours),
        n / statistics.median(times_hf),
        statistics.median(ratios),
        ratios[0],
        ratios[-1],
        same,
    )


def print_rows(rows: list[tuple]) -> None:
    print(
        f"{'model · mode':46} {'ours tok/s':>10} {'HF tok/s':>9} {'ratio':>6} "
        f"{'spread (min-max)':>17}  same tokens"
    )
    for label, ours_rate, hf_rate, ratio, low, high, same in rows:
        print(
            f"{label:46} {ours_rate:10.1f} {hf_rate:9.1f} {ratio:6.2f} "
            f"{f'{low:.2f}-{high:.2f}':>17}  {same}"
        )


def build_models(which: str, size: str):
    """(label, transformers model, our model) for ``gpt2`` or ``llama``."""
    from tests.backends.hf_folders import random_causal_lm

    if which == "gpt2":
        from backends.models.hf_gpt2 import from_hf_gpt2

        shape = SIZES[size]
        hf = random_causal_lm("gpt2", seed=0, **shape, eos_token_id=None, bos_token_id=None)
        hf = hf.eval()
        with tempfile.TemporaryDirectory() as tmp:
            hf.save_pretrained(tmp)
            ours = from_hf_gpt2(Path(tmp)).eval()
        return "GPT-2 (workbench GPT)", hf, ours
    from backends.text.hf import HFCausalLM

    shape = LLAMA_SIZES[size]
    hf = random_causal_lm("llama", seed=0, **shape, eos_token_id=None, bos_token_id=None).eval()
    ours = HFCausalLM(hf, shape["max_position_embeddings"]).eval()
    return "Llama (HF path)", hf, ours


def generators(hf, ours, tok, prompt: torch.Tensor):
    """(transformers' generate, ours) for ``prompt``, each called as ``fn(max_new, **settings)``."""
    from backends.text.generation import generate
    from backends.text.sampling import SamplingConfig

    def hf_generate(max_new: int, **kw):
        with torch.inference_mode():
            return hf.generate(
                prompt, max_new_tokens=max_new, min_new_tokens=max_new, pad_token_id=0, **kw
            )

    def ours_generate(max_new: int, use_cache: bool = True, **kw):
        return generate(
            ours,
            tok,
            prompt[0].tolist(),
            SamplingConfig(max_new_tokens=max_new, **kw),
            use_cache=use_cache,
        )

    return hf_generate, ours_generate


def compare_modes(which: str, args, hf_generate, ours_generate) -> list[tuple]:
    """Greedy and sampling, ours against transformers in interleaved rounds: one row each."""
    n = args.new_tokens
    rows = []
    sample = dict(temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1)
    for label, hf_kw, our_kw in (
        ("greedy", dict(do_sample=False), dict(greedy=True)),
        (
            "sampling t=0.8 k=50 p=0.95 rep=1.1",
            dict(do_sample=True, **sample),
            dict(seed=0, **sample),
        ),
    ):

        def run_hf(hf_kw=hf_kw):
            torch.manual_seed(0)
            return hf_generate(n, **hf_kw)

        times_hf, times_ours, out_hf, out_ours = paired_times(
            run_hf, lambda our_kw=our_kw: ours_generate(n, **our_kw), args.rounds
        )
        same = out_hf[0, args.prompt_tokens :].tolist() == [t.token_id for t in out_ours.tokens]
        rows.append(ratio_row(f"{which} · {label}", n, times_ours, times_hf, same))
    return rows


def print_kv_cache_speedup(ours_generate, n: int, rounds: int) -> None:
    """Our decoding with the KV cache against recomputing the whole window every token."""
    t_full, t_cached, _, _ = paired_times(
        lambda: ours_generate(n, use_cache=False, greedy=True),
        lambda: ours_generate(n, greedy=True),
        max(3, rounds // 2),
    )
    ratios = sorted(f / c for f, c in zip(t_full, t_cached, strict=True))
    print(
        f"  KV cache: {n / statistics.median(t_cached):.1f} tok/s cached vs "
        f"{n / statistics.median(t_full):.1f} tok/s recomputing -> "
        f"{statistics.median(ratios):.1f}x (rounds {ratios[0]:.1f}-{ratios[-1]:.1f})"
    )


def print_first_token_times(hf_generate, ours_generate, rounds: int) -> None:
    """The whole call for one new token, ours against transformers, in rounds."""
    firsts_hf, firsts_ours = [], []
    for _ in range(rounds):  # in rounds, as above
        firsts_hf.append(best_time(lambda: hf_generate(1, do_sample=False), 1)[0])
        # Both timed the same way: the whole call for one new token, from the caller's side
        # (our own time_to_first_token_s starts after validation and prompt encoding).
        firsts_ours.append(best_time(lambda: ours_generate(1, greedy=True), 1)[0])
    t_first_hf = statistics.median(firsts_hf)
    t_first_ours = statistics.median(firsts_ours)
    print(
        f"  time to first token: ours {t_first_ours * 1000:.1f} ms, transformers "
        f"{t_first_hf * 1000:.1f} ms (both: the whole generate call with 1 new token) -> ratio "
        f"{t_first_hf / t_first_ours:.2f}"
    )


def bench_model(which: str, args, tok) -> list[tuple]:
    """Every comparison for one model: rows for the table, the rest printed as it comes."""
    name, hf, ours = build_models(which, args.size)
    vocab = hf.config.vocab_size
    prompt = torch.randint(
        0, vocab, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(1)
    )
    params = sum(p.numel() for p in hf.parameters()) / 1e6
    print(f"{name}: {params:.0f} M parameters")
    hf_generate, ours_generate = generators(hf, ours, tok, prompt)
    hf_generate(4)  # warm-up: first calls pay for lazy initialisation
    ours_generate(4, greedy=True)
    rows = compare_modes(which, args, hf_generate, ours_generate)
    if which == "gpt2":
        print_kv_cache_speedup(ours_generate, args.new_tokens, args.rounds)
    print_first_token_times(hf_generate, ours_generate, args.rounds)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument(
        "--models", default="gpt2,llama", help="comma-separated: gpt2, llama (default both)"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per comparison")
    args = parser.parse_args(argv)
    try:
        import transformers
    except ImportError:
        print("this benchmark needs transformers: pip install transformers")
        return 2
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in ("gpt2", "llama")]
    if bad:
        parser.error(f"unknown model(s) {', '.join(bad)}; use gpt2 and/or llama")
    print(
        f"{args.threads} threads, prompt {args.prompt_tokens} tokens, {args.new_tokens} new "
        f"tokens, {args.rounds} interleaved rounds; torch {torch.__version__}, "
        f"transformers {transformers.__version__}"
    )
    tok = IdTokenizer()
    rows = []
    for which in models:
        rows.extend(bench_model(which, args, tok))
    print()
    print_rows(rows)
    print("goals: gpt2 ratio >= 1.5, llama ratio >= 1.0 (ratio = median of per-round ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
