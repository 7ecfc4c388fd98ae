"""Text generation: sampler semantics, streaming with stop strings, KV cache, seeds, perplexity."""

from __future__ import annotations

import copy
import math
import random

import pytest
import torch

from backends.models.gpt import GPT, GPTConfig
from backends.progress import Cancelled
from backends.text.errors import GenerationError
from backends.text.generation import generate
from backends.text.sampling import (
    SamplingConfig,
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    choose_token,
    process_logits,
)
from backends.text.scoring import score_text

INF = float("-inf")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def kept(logits: torch.Tensor) -> list[int]:
    return [int(v) for v in torch.isfinite(logits)]


def logits_of(probs: list[float]) -> torch.Tensor:
    return torch.tensor(probs).log()


# ---------------------------------------------------------------- samplers on hand-made logits


def test_top_p_keeps_the_token_that_crosses_the_threshold():
    probs = [0.5, 0.3, 0.1, 0.1]
    assert kept(apply_top_p(logits_of(probs), 0.8)) == [1, 1, 0, 0]
    assert kept(apply_top_p(logits_of(probs), 0.5)) == [1, 0, 0, 0]
    # 0.5 alone is short of 0.6, so the 0.3 that crosses it stays too.
    assert kept(apply_top_p(logits_of(probs), 0.6)) == [1, 1, 0, 0]
    assert kept(apply_top_p(logits_of(probs), 1.0)) == [1, 1, 1, 1]


def test_top_p_keeps_at_least_one_token_and_keeps_values():
    logits = torch.tensor([3.0, 1.0, 0.5])
    out = apply_top_p(logits, 1e-6)
    assert kept(out) == [1, 0, 0]
    assert out[0] == 3.0  # survivors keep their values; renormalising is softmax's job


def test_top_p_tie_at_the_boundary_keeps_one_of_the_tied_tokens():
    out = apply_top_p(logits_of([0.4, 0.3, 0.3]), 0.6)
    probs = out.softmax(-1)
    assert out[0] > INF and sum(kept(out)) == 2
    assert torch.isclose(
        torch.tensor([0.4, 0.3, 0.3])[torch.isfinite(out)].sum(), torch.tensor(0.7)
    )
    assert probs.sum().item() == pytest.approx(1.0)


def test_top_k_keeps_every_token_tied_with_the_kth():
    assert kept(apply_top_k(torch.tensor([2.0, 1.0, 1.0, 1.0, 0.0]), 2)) == [1, 1, 1, 1, 0]
    assert kept(apply_top_k(torch.tensor([2.0, 1.5, 1.0, 0.5]), 2)) == [1, 1, 0, 0]
    assert kept(apply_top_k(torch.tensor([2.0, 1.5]), 10)) == [1, 1]  # k > vocab keeps all
    assert kept(apply_top_k(torch.tensor([2.0, 1.5, 1.0]), 0)) == [1, 1, 1]  # 0 = off


def test_repetition_penalty_divides_positive_multiplies_negative_once_per_token():
    out = apply_repetition_penalty(torch.tensor([2.0, -2.0, 1.0]), [0, 1, 1], 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0]  # id 1 seen twice, penalised once
    zero = apply_repetition_penalty(torch.tensor([0.0, 3.0]), [0], 1.5)
    assert zero.tolist() == [0.0, 3.0]
    # A penalty below 1 rewards repeats instead.
    assert apply_repetition_penalty(torch.tensor([2.0, -2.0]), [0, 1], 0.5).tolist() == [4.0, -1.0]


def test_pipeline_order_penalty_before_temperature_then_top_k_then_top_p():
    raw = torch.tensor([4.0, 3.0, -1.0, 2.0, 0.0])
    config = SamplingConfig(temperature=2.0, top_k=3, top_p=0.6, repetition_penalty=2.0)
    # penalty on id 0 and 2: [2, 3, -2, 2, 0]; /2: [1, 1.5, -1, 1, 0]; top-3 keeps ties at 1:
    # ids 0, 1, 3; top-p 0.6 of softmax([1, 1.5, 1]) = [.274, .452, .274] keeps 1 and one tie.
    out = process_logits(raw, [0, 2], config)
    assert out[1] == 1.5 and out[2] == INF and out[4] == INF
    assert sum(kept(out)) == 2


def test_greedy_mode_applies_only_the_penalty_and_takes_the_argmax():
    raw = torch.tensor([3.0, 2.9, 0.0])
    config = SamplingConfig(greedy=True, top_k=1, temperature=0.1, repetition_penalty=1.5)
    out = process_logits(raw, [0], config)
    assert out.tolist() == pytest.approx([2.0, 2.9, 0.0])
    assert int(choose_token(out, greedy=True)) == 1


def test_temperature_zero_means_greedy_never_division_by_zero():
    config = SamplingConfig(temperature=0.0)
    config.validate()
    assert config.is_greedy
    out = process_logits(torch.tensor([1.0, 2.0]), [], config)
    assert torch.isfinite(out).all()
    with pytest.raises(GenerationError, match="greedy"):
        apply_temperature(torch.tensor([1.0]), 0.0)


def test_seeded_draw_is_reproducible_and_follows_the_distribution():
    logits = logits_of([0.7, 0.2, 0.1])
    draws = [int(choose_token(logits, False, torch.Generator().manual_seed(s))) for s in range(400)]
    again = [int(choose_token(logits, False, torch.Generator().manual_seed(s))) for s in range(400)]
    assert draws == again
    assert abs(draws.count(0) / 400 - 0.7) < 0.08
    filtered = torch.tensor([INF, 0.0, INF])
    assert {
        int(choose_token(filtered, False, torch.Generator().manual_seed(s))) for s in range(20)
    } == {1}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", -0.5, "temperature"),
        ("top_p", 0.0, "top_p"),
        ("top_p", 1.5, "top_p"),
        ("top_k", -1, "top_k"),
        ("repetition_penalty", 0.0, "repetition_penalty"),
        ("max_new_tokens", 0, "max_new_tokens"),
        ("stop", ("",), "stop"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field, value, message):
    config = SamplingConfig(**{field: value})
    with pytest.raises(GenerationError, match=message):
        config.validate()


# ---------------------------------------------------------------- same as transformers


def test_filters_match_transformers_on_random_logits():
    lp = pytest.importorskip("transformers.generation.logits_process")
    gen = torch.Generator().manual_seed(0)
    for trial in range(20):
        scores = torch.randn(3, 50, generator=gen) * 3
        ids = torch.randint(0, 50, (3, 12), generator=gen)
        t = 0.3 + trial * 0.1
        k = 1 + trial * 2
        p = 0.05 + trial * 0.045
        penalty = 0.8 + trial * 0.1
        pairs = [
            (apply_temperature(scores, t), lp.TemperatureLogitsWarper(t)(ids, scores)),
            (apply_top_k(scores, k), lp.TopKLogitsWarper(k)(ids, scores)),
            (apply_top_p(scores, p), lp.TopPLogitsWarper(p)(ids, scores)),
            (
                apply_repetition_penalty(scores, ids, penalty),
                lp.RepetitionPenaltyLogitsProcessor(penalty)(ids, scores),
            ),
        ]
        for ours, theirs in pairs:
            assert torch.equal(ours, theirs)
        config = SamplingConfig(temperature=t, top_k=k, top_p=p, repetition_penalty=penalty)
        chain = lp.LogitsProcessorList(
            [
                lp.RepetitionPenaltyLogitsProcessor(penalty),
                lp.TemperatureLogitsWarper(t),
                lp.TopKLogitsWarper(k),
                lp.TopPLogitsWarper(p),
            ]
        )
        assert torch.equal(process_logits(scores, ids, config), chain(ids, scores))


# ---------------------------------------------------------------- generation with a tiny GPT


class CharTok:
    """A tiny character tokenizer for tests (the shipped one lives in backends.data.text)."""

    def __init__(self, chars: str) -> None:
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    def encode(self, text: str) -> list[int]:
        return [self.index[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)


CHARS = "abcdefgh \n:!"


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=len(CHARS), block_size=16, n_layer=2, n_head=2, n_embd=16)
    model = GPT(config).eval()
    with torch.no_grad():  # sharper than a fresh init, so greedy paths are not all one token
        model.transformer.wte.weight.mul_(20)
    return model, CharTok(CHARS)


def test_kv_cache_generation_equals_full_recompute_past_the_context(tiny):
    model, tok = tiny
    for config in (
        SamplingConfig(greedy=True, max_new_tokens=40),
        SamplingConfig(temperature=0.9, top_k=6, top_p=0.9, seed=3, max_new_tokens=40),
    ):
        cached = generate(model, tok, "abc", config, use_cache=True)
        full = generate(model, tok, "abc", config, use_cache=False)
        assert cached.text == full.text and len(cached.tokens) == 40  # 43 > block_size 16
        for a, b in zip(cached.tokens, full.tokens, strict=True):
            assert a.logprob_raw == pytest.approx(b.logprob_raw, abs=1e-4)


def test_decoding_layout_generates_the_same_tokens_cached_and_recomputed(tiny):
    model, tok = tiny
    fast = copy.deepcopy(model).use_decoding_layout()
    for config in (
        SamplingConfig(greedy=True, max_new_tokens=30),
        SamplingConfig(temperature=0.9, top_k=6, top_p=0.9, seed=5, max_new_tokens=30),
    ):
        reference = generate(model, tok, "abc", config)
        for use_cache in (True, False):
            result = generate(fast, tok, "abc", config, use_cache=use_cache)
            assert result.text == reference.text  # past the 16-token context: re-reads too
            for a, b in zip(result.tokens, reference.tokens, strict=True):
                assert a.logprob_raw == pytest.approx(b.logprob_raw, abs=1e-4)
                assert a.logprob == pytest.approx(b.logprob, abs=1e-4)


def test_same_seed_same_text_and_the_seed_is_reported(tiny):
    model, tok = tiny
    config = SamplingConfig(temperature=1.5, max_new_tokens=30)
    first = generate(model, tok, "ab", config)
    again = generate(
        model, tok, "ab", SamplingConfig(temperature=1.5, max_new_tokens=30, seed=first.seed)
    )
    assert again.text == first.text and again.seed == first.seed
    others = {
        generate(model, tok, "ab", SamplingConfig(temperature=1.5, max_new_tokens=30, seed=s)).text
        for s in range(4)
    }
    assert len(others) > 1


def test_streamed_tokens_carry_raw_and_sampled_probabilities(tiny):
    model, tok = tiny
    seen = []
    result = generate(
        model, tok, "abc", SamplingConfig(top_k=3, seed=1, max_new_tokens=12), on_token=seen.append
    )
    assert "".join(t.text for t in seen) == result.text and len(seen) == 12
    for token in seen:
        alts = token.alternatives
        assert len(alts) == 5 and alts[0].prob_raw >= alts[-1].prob_raw
        # top-k 3: the three most likely keep their share of the top-3 mass; the rest get 0.
        top3 = sum(a.prob_raw for a in alts[:3])
        assert [a.prob for a in alts] == pytest.approx(
            [a.prob_raw / top3 for a in alts[:3]] + [0, 0]
        )
        assert token.token_id in [a.token_id for a in alts[:3]]
        assert token.prob == pytest.approx(token.prob_raw / top3, rel=1e-4)
        assert 0 <= token.entropy_bits <= math.log2(len(CHARS)) + 1e-6
    assert result.time_to_first_token_s > 0 and result.tokens_per_s > 0
    assert result.perplexity >= 1


class Scripted(torch.nn.Module):
    """A fake model that emits a fixed script of token ids, one per step."""

    def __init__(self, script: list[int], vocab: int, block: int = 64) -> None:
        super().__init__()
        self.script = script
        self.prompt_len = None
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = GPTConfig(vocab_size=vocab, block_size=block, n_layer=1, n_head=1, n_embd=1)

    def new_kv_cache(self):
        class Cache:
            length = 0

            def reset(self):
                self.length = 0

        return Cache()

    def forward(self, idx, kv_cache=None, last_only=False):
        seen = idx.size(1) + (kv_cache.length if kv_cache is not None else 0)
        if kv_cache is not None:
            kv_cache.length = seen
        if self.prompt_len is None:
            self.prompt_len = seen
        step = seen - self.prompt_len
        logits = torch.zeros(1, 1 if last_only else idx.size(1), self.config.vocab_size)
        logits[0, -1, self.script[min(step, len(self.script) - 1)]] = 50.0
        return logits, None


def stream_with_stops(text: str, stops: tuple[str, ...]) -> tuple[list[str], str]:
    tok = CharTok(CHARS + "YouQ")
    model = Scripted(tok.encode(text), len(tok.chars))
    shown: list[str] = []
    visible = ""

    def on_token(token):
        nonlocal visible
        visible += token.text
        shown.append(visible)

    result = generate(
        model,
        tok,
        "a",
        SamplingConfig(greedy=True, stop=stops, max_new_tokens=len(text)),
        on_token=on_token,
    )
    return shown, result.text


def test_stop_string_never_appears_even_partially_while_streaming():
    shown, final = stream_with_stops("ab\nYou: hb", ("\nYou:",))
    assert final == "ab"
    assert all(final.startswith(s) for s in shown)  # nothing shown is ever taken back
    # A tail that looked like a stop string but diverged is shown after all.
    shown, final = stream_with_stops("a\nYo!\nQ: b", ("\nYou:", "\nQ:"))
    assert final == "a\nYo!"
    assert all(final.startswith(s) for s in shown)


def test_stop_strings_on_random_streams_never_leak():
    rng = random.Random(0)
    alphabet = "ab\n:"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        stops = tuple(
            {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) for _ in range(2)}
        )
        shown, final = stream_with_stops(text, stops)
        expected = text
        for end in range(1, len(text) + 1):  # generation stops as soon as a stop string completes
            cuts = [text[:end].find(s) for s in stops if s in text[:end]]
            if cuts:
                expected = text[: min(cuts)]
                break
        assert final == expected
        for visible in shown:
            assert expected.startswith(visible)
            assert not any(s in visible for s in stops)


def test_bad_prompts_get_clear_messages(tiny):
    model, tok = tiny
    with pytest.raises(GenerationError, match="never saw: 'Z', '€'"):
        generate(model, tok, "abZ€", SamplingConfig(max_new_tokens=2))
    with pytest.raises(
        GenerationError, match="context is 16 tokens; shorten the prompt by at least 4"
    ):
        generate(model, tok, "a" * 20, SamplingConfig(max_new_tokens=2), truncate_prompt=False)
    # By default a long prompt loses its oldest tokens, and the result says how many.
    cut = generate(model, tok, "b" + "a" * 19, SamplingConfig(max_new_tokens=2))
    assert cut.dropped_prompt_tokens == 4 and cut.prompt_ids == tok.encode("a" * 16)
    assert "first 4 tokens" in cut.note
    with pytest.raises(GenerationError, match="empty"):
        generate(model, tok, "", SamplingConfig(max_new_tokens=2))
    with pytest.raises(GenerationError, match="top_p"):
        generate(model, tok, "ab", SamplingConfig(top_p=0))


def test_progress_can_cancel_midway(tiny):
    model, tok = tiny
    seen = []

    def progress(fraction):
        if fraction >= 0.25:
            raise Cancelled()

    with pytest.raises(Cancelled):
        generate(
            model,
            tok,
            "ab",
            SamplingConfig(max_new_tokens=20),
            on_token=seen.append,
            progress=progress,
        )
    assert len(seen) == 5


def test_score_text_matches_the_models_own_loss(tiny):
    model, tok = tiny
    text = "abc defg\nhab:c!"
    score = score_text(model, tok, text)
    ids = torch.tensor([tok.encode(text)])
    _, loss = model(ids[:, :-1], targets=ids[:, 1:])
    assert len(score.tokens) == len(text) - 1
    assert score.bits_per_token == pytest.approx(loss.item() / math.log(2), rel=1e-5)
    assert score.perplexity == pytest.approx(math.exp(loss.item()), rel=1e-5)
    long_text = (text * 3)[:40]  # longer than the 16-token context: windows
    long_score = score_text(model, tok, long_text)
    assert len(long_score.tokens) == 39 and all(t.bits >= 0 for t in long_score.tokens)


# ---------------------------------------------------------------- a GPT-2 saved by transformers


@pytest.fixture(scope="module")
def hf_gpt2_folder(tmp_path_factory):
    pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from tests.backends.hf_folders import random_causal_lm

    folder = tmp_path_factory.mktemp("gpt2")
    bpe = tokenizers.ByteLevelBPETokenizer()
    corpus = ["the quick brown fox jumps over the lazy dog", "héllo wörld", "a b c d e f g"] * 20
    bpe.train_from_iterator(corpus, vocab_size=300, special_tokens=["<|endoftext|>"])
    bpe.save_model(str(folder))  # vocab.json + merges.txt
    vocab = bpe.get_vocab_size()
    hf = random_causal_lm(
        "gpt2",
        seed=0,
        vocab_size=vocab,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=bpe.token_to_id("<|endoftext|>"),
        eos_token_id=bpe.token_to_id("<|endoftext|>"),
    ).eval()
    with torch.no_grad():
        hf.transformer.wte.weight.mul_(25)  # peaky enough that greedy is not one token repeated
    hf.save_pretrained(folder)
    return folder, hf


def test_hf_gpt2_folder_loads_with_same_logits_and_continuations(hf_gpt2_folder):
    from backends.text.models import load_text_model

    folder, hf = hf_gpt2_folder
    loaded = load_text_model(folder)
    assert loaded.source == "hf-gpt2"
    ids = loaded.tokenizer.encode("the quick brown fox")
    x = torch.tensor([ids])
    with torch.no_grad():
        ours, _ = loaded.model(x)
        theirs = hf(x).logits
    assert (ours - theirs).abs().max().item() < 1e-4

    eos = loaded.tokenizer.eos_id
    with torch.no_grad():
        greedy = hf.generate(x, do_sample=False, max_new_tokens=12, pad_token_id=eos)
    result = generate(
        loaded.model, loaded.tokenizer, ids, SamplingConfig(greedy=True, max_new_tokens=12)
    )
    ours = [t.token_id for t in result.tokens]
    theirs = greedy[0, len(ids) :].tolist()
    # The same tokens, and as many: ours may stop early only where both emitted EOS.
    assert len(ours) >= 3, ours
    assert ours == theirs[: len(ours)]
    assert len(ours) == len(theirs) or ours[-1] == eos, (ours, theirs)

    # Seeded sampling draws the same tokens as transformers after torch.manual_seed.
    settings = dict(temperature=0.8, top_k=40, top_p=0.9, repetition_penalty=1.2)
    torch.manual_seed(7)
    with torch.no_grad():
        sampled = hf.generate(x, do_sample=True, max_new_tokens=12, pad_token_id=eos, **settings)
    result = generate(
        loaded.model, loaded.tokenizer, ids, SamplingConfig(seed=7, max_new_tokens=12, **settings)
    )
    ours_ids = [t.token_id for t in result.tokens]
    assert ours_ids == sampled[0, len(ids) :].tolist()[: len(ours_ids)]
    assert len(ours_ids) >= 3


def test_hf_tokenizer_streams_whole_characters(hf_gpt2_folder):
    from backends.text.models import load_text_model

    loaded = load_text_model(hf_gpt2_folder[0])
    tok = loaded.tokenizer
    ids = tok.encode("héllo wörld")
    assert tok.decode(ids) == "héllo wörld"
    # Feed the ids through a scripted model: each shown piece is whole characters.
    model = Scripted(ids[1:], loaded.model.config.vocab_size)
    pieces = []
    result = generate(
        model,
        tok,
        [ids[0]],
        SamplingConfig(greedy=True, max_new_tokens=len(ids) - 1),
        on_token=lambda t: pieces.append(t.text),
    )
    assert "\ufffd" not in "".join(pieces)
    assert result.text == tok.decode(ids[1:])


def test_folders_that_are_not_gpt2_are_refused_clearly(tmp_path):
    from backends.text.models import load_text_model

    with pytest.raises(GenerationError, match="does not exist"):
        load_text_model(tmp_path / "missing")
    with pytest.raises(GenerationError, match="no config.json"):
        load_text_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "vit"}')
    pytest.importorskip("transformers")
    with pytest.raises(GenerationError, match="not a causal language model"):
        load_text_model(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "vocab_size": 10}')
    pytest.importorskip("tokenizers")
    with pytest.raises(GenerationError, match="no tokenizer.json"):
        load_text_model(tmp_path)


def test_cli_json_gives_text_and_token_logprobs(hf_gpt2_folder, capsys):
    import json

    from workbench.cli import main

    folder = str(hf_gpt2_folder[0])
    argv = [
        "generate",
        folder,
        "--prompt",
        "the quick",
        "--max-new-tokens",
        "6",
        "--seed",
        "3",
        "--top-k",
        "20",
        "--json",
    ]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["seed"] == 3 and first["text"] == "".join(t["text"] for t in first["tokens"])
    assert all(t["logprob_raw"] <= 0 and t["logprob"] >= t["logprob_raw"] for t in first["tokens"])
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["text"] == first["text"]
    assert main(["generate", folder, "--prompt", "x", "--top-p", "1.5"]) == 2
    assert "top_p must be in (0, 1]" in capsys.readouterr().err


# ---------------------------------------------------------------- prompt templates


def test_templates_build_zero_one_few_shot_and_round_trip(tmp_path):
    from backends.text.templates import (
        Example,
        PromptTemplate,
        TemplateError,
        list_templates,
        load_template,
        save_template,
    )

    template = PromptTemplate(
        name="French words",
        instruction="Translate to French.",
        examples=[Example(input="cheese", output="fromage"), Example(input="cat", output="chat")],
        query="dog",
        input_label="English:",
        output_label="French:",
    )
    assert template.build() == (
        "Translate to French.\n\nEnglish: cheese\nFrench: fromage\n\nEnglish: cat\nFrench: chat"
        "\n\nEnglish: dog\nFrench:"
    )
    template.shots = 0
    assert template.build() == "Translate to French.\n\nEnglish: dog\nFrench:"
    template.shots = 1
    assert "cat" not in template.build() and "cheese" in template.build()
    path = save_template(template, tmp_path / "templates")
    assert path.name == "french-words.toml" and list_templates(tmp_path / "templates") == [path]
    assert load_template(path) == template
    path.write_text('name = "x"\nshots = -1\n')
    with pytest.raises(TemplateError, match="shots"):
        load_template(path)
    path.write_text("not toml [")
    with pytest.raises(TemplateError, match="cannot be read"):
        load_template(path)


# ---------------------------------------------------------------- the shipped demo


def test_shipped_demo_loads_by_name_and_has_learnt_its_corpus():
    from backends.text.models import demo_names, load_text_model

    assert "gpt-kjv" in demo_names()
    demo = load_text_model("gpt-kjv")
    assert demo.source == "demo" and demo.name == "gpt-kjv"
    verse = "And God said, Let there be light: and there was light."
    score = score_text(demo.model, demo.tokenizer, verse)
    # Uniform guessing over its 63 characters costs ~6 bits each; the demo knows its Bible.
    assert score.bits_per_token < 3.0
    result = generate(
        demo.model, demo.tokenizer, "And God said", SamplingConfig(greedy=True, max_new_tokens=30)
    )
    assert len(result.text) == 30 and result.finish_reason == "length"


def test_cli_scores_a_text_with_a_demo_by_name(capsys):
    import json

    from backends.text.models import load_text_model
    from workbench.cli import main

    text = "In the beginning God created the heaven and the earth."
    assert main(["generate", "gpt-kjv", "--prompt", text, "--score", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    demo = load_text_model("gpt-kjv")
    assert report["perplexity"] == pytest.approx(
        score_text(demo.model, demo.tokenizer, text).perplexity
    )
    assert len(report["tokens"]) == len(text) - 1
    assert main(["generate", "no-such-model", "--prompt", "x"]) == 2
    assert "gpt-kjv" in capsys.readouterr().err  # the message lists the demos on offer
