"""Text generation engines: samplers, streamed decoding, perplexity, language models, templates.

One module per purpose:

* :mod:`~backends.text.errors`: :class:`GenerationError`, the one refusal (no torch);
* :mod:`~backends.text.sampling`: :class:`SamplingConfig` and the samplers, pure functions on
  logits in Hugging Face ``transformers``' order;
* :mod:`~backends.text.prompts`: encoding a prompt, fitting it to a context, the truncation
  note, and how a prompt fits a model (no torch at import);
* :mod:`~backends.text.results`: what generation and scoring return (tokens, alternatives,
  results, scores);
* :mod:`~backends.text.streaming`: decoded tokens into shown text (whole characters, stop
  strings held back);
* :mod:`~backends.text.generation`: the decoding loop with a KV cache, :func:`generate`;
* :mod:`~backends.text.scoring`: per-token surprise and perplexity, :func:`score_text`;
* :mod:`~backends.text.models`: a language model by demo name, checkpoint or folder (no torch
  at import, so the GUI can list demos);
* :mod:`~backends.text.hf_gpt2`: a Hugging Face GPT-2 folder as a workbench GPT;
* :mod:`~backends.text.hf`: any other Hugging Face causal LM folder, through ``transformers``;
* :mod:`~backends.text.templates`: zero-, one- and few-shot prompt templates in TOML.

Nothing here imports Qt; import the module that holds a name (this package re-exports none).
"""
