"""Generation speed: our streaming generator against ``transformers`` ``generate``.

Both run the same GPT-2-architecture weights (randomly initialised by
transformers, saved, and loaded into the workbench GPT with ``from_hf_gpt2``),
on the same threads, for the same prompt and number of new tokens. Printed:

- tokens/s of ours and of transformers (greedy and seeded sampling), and the
  ratio ours / transformers (goal >= 1.0). Ours includes what the playground
  needs per token: raw and sampled probabilities, top-5 alternatives, the
  entropy and the incremental decoding of the text;
- our KV-cached generation against recomputing the whole window per token
  (goal >= 4x);
- time to first token of both.

Ours and transformers run in alternating rounds (see ``paired_times``), so a
change in the machine's load during the run hits both alike; the ratio is the
median of the rounds' ratios.

Run by hand (needs ``pip install transformers``)::

    python bench/generate_speed.py                  # GPT-2 small shape (124 M)
    python bench/generate_speed.py --size tiny      # a quick look
    python bench/generate_speed.py --threads 2 --new-tokens 128
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import transformers
    except ImportError:
        print("this benchmark needs transformers: pip install transformers")
        return 2
    transformers.logging.set_verbosity_error()
    from backends.generate import SamplingConfig, generate
    from backends.models.gpt import from_hf_gpt2

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = transformers.GPT2Config(**SIZES[args.size], eos_token_id=None, bos_token_id=None)
    hf = transformers.GPT2LMHeadModel(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        hf.save_pretrained(tmp)
        ours = from_hf_gpt2(Path(tmp)).eval()
    tok = IdTokenizer()
    prompt = torch.randint(
        0, config.vocab_size, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(1)
    )
    n = args.new_tokens
    print(
        f"GPT-2 {args.size}: {ours.num_parameters() / 1e6:.0f} M parameters, {args.threads} threads, "
        f"prompt {args.prompt_tokens} tokens, {n} new tokens, median of {args.repeats}"
    )
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")

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

    hf_generate(4)  # warm-up: first calls pay for lazy initialisation
    ours_generate(4, greedy=True)

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
            run_hf, lambda our_kw=our_kw: ours_generate(n, **our_kw), args.repeats
        )
        same = out_hf[0, args.prompt_tokens :].tolist() == [t.token_id for t in out_ours.tokens]
        # The ratio is the median of the rounds' ratios: each compares runs made side by side.
        ratio = statistics.median(h / o for h, o in zip(times_hf, times_ours, strict=True))
        rows.append(
            (
                label,
                n / statistics.median(times_ours),
                n / statistics.median(times_hf),
                ratio,
                same,
            )
        )
    print()
    print(f"{'mode':38} {'ours tok/s':>11} {'HF tok/s':>10} {'ratio':>7}  same tokens")
    for label, ours_rate, hf_rate, ratio, same in rows:
        print(f"{label:38} {ours_rate:11.1f} {hf_rate:10.1f} {ratio:7.2f}  {same}")

    t_cached, _ = best_time(lambda: ours_generate(n, greedy=True), args.repeats)
    t_full, _ = best_time(
        lambda: ours_generate(n, use_cache=False, greedy=True), max(1, args.repeats - 1)
    )
    print()
    print(
        f"KV cache: {n / t_cached:.1f} tok/s cached vs {n / t_full:.1f} tok/s recomputing "
        f"-> {t_full / t_cached:.1f}x"
    )

    firsts_hf, firsts_ours = [], []
    for _ in range(args.repeats):  # in rounds, as above
        firsts_hf.append(best_time(lambda: hf_generate(1, do_sample=False), 1)[0])
        # Both timed the same way: the whole call for one new token, from the caller's side
        # (our own time_to_first_token_s starts after validation and prompt encoding).
        firsts_ours.append(best_time(lambda: ours_generate(1, greedy=True), 1)[0])
    t_first_hf = statistics.median(firsts_hf)
    t_first_ours = statistics.median(firsts_ours)
    print(
        f"time to first token: ours {t_first_ours * 1000:.1f} ms, transformers {t_first_hf * 1000:.1f} ms "
        f"(both: the whole generate call with 1 new token) -> ratio {t_first_hf / t_first_ours:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
