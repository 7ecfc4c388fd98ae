"""Any local Hugging Face causal LM in the playground's engine, checked against transformers itself.

Tiny random Llama- and Qwen2-shaped models with a tokenizer trained here are
saved to a temporary folder and opened the way a user's folder is.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from backends.text.errors import GenerationError
from backends.text.generation import generate
from backends.text.sampling import SamplingConfig
from backends.text.scoring import score_text

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.backends.hf_folders import make_folder  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is two plus two?"},
    {"role": "assistant", "content": "Four."},
    {"role": "user", "content": "And the earth?"},
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def folder(request, tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp(request.param) / request.param, request.param)


@pytest.fixture(scope="module")
def loaded(folder):
    from backends.text.models import load_text_model

    return load_text_model(folder)


@pytest.fixture(scope="module")
def reference(folder):
    return transformers.AutoModelForCausalLM.from_pretrained(folder).eval()


def _ids(result):
    return [t.token_id for t in result.tokens]


def test_folder_opens_as_hf_causal_lm(loaded, folder):
    assert loaded.source == "hf"
    assert loaded.architecture == folder.name
    assert loaded.context == 64
    assert loaded.has_chat_template
    assert "context 64" in loaded.describe()


def test_greedy_continuation_equals_transformers_generate(loaded, reference):
    ids = loaded.tokenizer.encode("In the beginning God")
    with torch.no_grad():
        theirs = reference.generate(
            torch.tensor([ids]),
            do_sample=False,
            max_new_tokens=24,
            top_k=None,
            top_p=None,
            temperature=None,
        )[0, len(ids) :].tolist()
    ours = generate(
        loaded.model, loaded.tokenizer, ids, SamplingConfig(greedy=True, max_new_tokens=24)
    )
    assert _ids(ours) == theirs[: len(ours.tokens)]
    assert len(ours.tokens) >= 10
    assert len(set(_ids(ours))) > 3  # a real continuation, not one token repeated


def test_seeded_sampling_reproduces_itself_and_transformers(loaded, reference):
    ids = loaded.tokenizer.encode("The quick brown")
    settings = dict(temperature=0.9, top_k=50, top_p=0.95, repetition_penalty=1.1)
    config = SamplingConfig(seed=11, max_new_tokens=20, **settings)
    first = generate(loaded.model, loaded.tokenizer, ids, config)
    again = generate(loaded.model, loaded.tokenizer, ids, config)
    assert _ids(first) == _ids(again) and first.text == again.text and first.seed == 11
    torch.manual_seed(11)
    with torch.no_grad():
        theirs = reference.generate(
            torch.tensor([ids]), do_sample=True, max_new_tokens=20, **settings
        )[0, len(ids) :].tolist()
    assert _ids(first) == theirs[: len(first.tokens)]


def test_cache_decoding_equals_full_recompute(loaded):
    ids = loaded.tokenizer.encode("And the earth")
    config = SamplingConfig(greedy=True, max_new_tokens=12)
    cached = generate(loaded.model, loaded.tokenizer, ids, config)
    full = generate(loaded.model, loaded.tokenizer, ids, config, use_cache=False)
    assert _ids(cached) == _ids(full)


def test_chat_template_equals_apply_chat_template(loaded, folder):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    theirs = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True)
    theirs = theirs["input_ids"] if not isinstance(theirs, list) else theirs
    assert loaded.tokenizer.chat_ids(MESSAGES) == list(theirs)
    text = loaded.tokenizer.chat_text(MESSAGES)
    assert text == tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|assistant|>")
    result = generate(
        loaded.model,
        loaded.tokenizer,
        loaded.tokenizer.chat_ids(MESSAGES),
        SamplingConfig(greedy=True, max_new_tokens=5),
    )
    assert result.generated_tokens >= 1


def test_long_prompt_is_left_truncated_with_a_note(loaded):
    ids = loaded.tokenizer.encode("In the beginning God created the heaven and the earth. " * 12)
    assert len(ids) > loaded.context
    result = generate(
        loaded.model, loaded.tokenizer, ids, SamplingConfig(greedy=True, max_new_tokens=4)
    )
    dropped = len(ids) - loaded.context
    assert result.dropped_prompt_tokens == dropped
    assert result.prompt_ids == ids[dropped:]
    assert f"first {dropped} tokens" in result.note and "64 tokens" in result.note
    assert result.to_dict()["note"] == result.note
    short = generate(loaded.model, loaded.tokenizer, ids[:10], SamplingConfig(max_new_tokens=2))
    assert short.dropped_prompt_tokens == 0 and short.note == ""


def test_stop_list_stops_at_the_first_match_and_never_shows_a_partial_one(loaded):
    ids = loaded.tokenizer.encode("In the beginning")
    free = generate(
        loaded.model, loaded.tokenizer, ids, SamplingConfig(greedy=True, max_new_tokens=40)
    )
    text = free.text
    assert len(text) > 12
    early, late = text[6:9], text[len(text) - 4 :]
    stops = (late, early, "never-in-the-text")  # list order does not matter, position does
    cut = min(text.find(s) for s in stops if s in text)
    first = next(s for s in stops if text.find(s) == cut)
    shown = []
    result = generate(
        loaded.model,
        loaded.tokenizer,
        ids,
        SamplingConfig(greedy=True, max_new_tokens=40, stop=stops),
        on_token=lambda t: shown.append(t.text),
    )
    assert result.finish_reason == "stop" and result.stop_string == first
    assert result.text == text[:cut]
    streamed = "".join(shown)
    assert streamed == result.text
    assert not any(s in streamed for s in stops)


def test_perplexity_matches_the_models_loss_and_slides_past_the_context(loaded, reference):
    text = "And the earth was without form, and void."
    ids = loaded.tokenizer.encode(text)
    with torch.no_grad():
        loss = reference(torch.tensor([ids]), labels=torch.tensor([ids])).loss.item()
    score = score_text(loaded.model, loaded.tokenizer, text)
    assert score.perplexity == pytest.approx(torch.tensor(loss).exp().item(), rel=1e-4)
    long = score_text(loaded.model, loaded.tokenizer, text * 12)
    assert len(long.tokens) == len(loaded.tokenizer.encode(text * 12)) - 1 > loaded.context


# ---------------------------------------------------------------- bad folders


def test_bad_folders_get_one_clear_message_each(folder, tmp_path):
    from backends.text.models import load_text_model

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GenerationError, match="no config.json"):
        load_text_model(empty)

    other = tmp_path / "vision"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(GenerationError, match="'vit' model, which is not a causal language model"):
        load_text_model(other)

    bare = tmp_path / "no-tokenizer"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        shutil.copy(folder / name, bare / name)
    with pytest.raises(GenerationError, match="has no tokenizer"):
        load_text_model(bare)

    weightless = tmp_path / "no-weights"
    shutil.copytree(folder, weightless)
    (weightless / "model.safetensors").unlink()
    with pytest.raises(GenerationError, match="has no weights"):
        load_text_model(weightless)


class _Payload:
    def __reduce__(self):
        return (print, ("this would have run",))


def test_pickle_only_folders_load_only_with_weights_only(folder, tmp_path):
    from safetensors.torch import load_file

    from backends.text.models import load_text_model

    pickled = tmp_path / "pickled"
    shutil.copytree(folder, pickled)
    state = load_file(pickled / "model.safetensors")
    (pickled / "model.safetensors").unlink()
    torch.save(state, pickled / "pytorch_model.bin")
    model = load_text_model(pickled)  # plain tensors: loads with weights_only=True
    assert model.source == "hf"

    torch.save({"weights": _Payload()}, pickled / "pytorch_model.bin")
    with pytest.raises(GenerationError, match="does not load with weights_only=True"):
        load_text_model(pickled)


def test_cli_generates_with_repeatable_stops_and_a_chat(folder, capsys):
    from workbench.cli import main

    code = main(
        [
            "generate",
            str(folder),
            "--prompt",
            "In the beginning",
            "--greedy",
            "--max-new-tokens",
            "8",
            "--json",
        ]
    )
    assert code == 0
    free = json.loads(capsys.readouterr().out)
    assert free["source"] == "hf" and free["generated_tokens"] == 8
    stop = free["text"][3:5]
    code = main(
        [
            "generate",
            str(folder),
            "--prompt",
            "In the beginning",
            "--greedy",
            "--max-new-tokens",
            "8",
            "--stop",
            "zzz-not-there",
            "--stop",
            stop,
            "--json",
        ]
    )
    stopped = json.loads(capsys.readouterr().out)
    assert code == 0 and stopped["finish_reason"] == "stop"
    assert stopped["text"] == free["text"][: free["text"].find(stop)]

    code = main(
        [
            "generate",
            str(folder),
            "--chat",
            json.dumps(MESSAGES),
            "--greedy",
            "--max-new-tokens",
            "3",
            "--json",
        ]
    )
    chat = json.loads(capsys.readouterr().out)
    assert code == 0 and chat["prompt"].endswith("<|assistant|>")

    code = main(["generate", str(folder), "--chat", '[{"role": 1}]'])
    err = capsys.readouterr().err
    assert code != 0 and "--chat" in err and "Traceback" not in err


def test_sentencepiece_style_pieces_keep_their_spaces():
    """Metaspace tokenizers drop a text's leading space; decoded one by one, pieces must not."""
    import tokenizers
    from tokenizers import decoders, models, pre_tokenizers, trainers

    from backends.text.hf import HFTextTokenizer

    tok = tokenizers.Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(
        ["the quick brown fox jumps over the lazy dog"] * 20,
        trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"]),
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    wrapped = HFTextTokenizer(fast, {fast.eos_token_id})
    ids = wrapped.encode("the quick brown fox")
    pieces = [wrapped.decode([i]) for i in ids]
    assert "".join(pieces).strip() == "the quick brown fox"
    assert " quick" in pieces or any(p.startswith(" ") for p in pieces[1:])


def test_cli_bad_folders_are_one_line_each(folder, tmp_path, capsys):
    from workbench.cli import main

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(folder / "config.json", bare / "config.json")
    shutil.copy(folder / "model.safetensors", bare / "model.safetensors")
    other = tmp_path / "vision"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "vit"}))
    for where, expected in ((bare, "has no tokenizer"), (other, "not a causal language model")):
        assert main(["generate", str(where), "--prompt", "In"]) != 0
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
