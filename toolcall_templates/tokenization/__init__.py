"""The tokenization pipeline: canonical rows in, ``input_ids`` / ``attention_mask`` / ``labels`` out.

A row flows through these modules, in order:

* ``tokenize``: the public entry points, ``tokenize_dataset`` (a ``datasets.Dataset`` mapped in batches) and
  ``tokenize_conversation`` (one row); the report columns and the map's cache key.
* ``row_decoding``: the batch's Arrow columns decoded to plain Python rows, JSON values decoded exactly.
* ``conversation_encoder``: per batch, render every conversation once with ``{% generation %}`` spans, encode the
  texts, and turn the spans into labels.
* ``control_tokens``: literal special-token strings in the data, rejected or escaped.
* ``segment_encoder``: the rendered texts tokenized split at special tokens, recurring pieces encoded once.
* ``piece_encoding``: the one backend tokenizer call for the pieces a batch is missing.
* ``truncation``: rows over ``max_length`` dropped or cut between whole turns, never inside a tool call.
* ``tokenize_report``: counts of rows kept and dropped, with reasons.
* ``gc_pause``: the cyclic garbage collector paused while a batch is encoded.

The general path, for any other chat template (the model's own, used as it is) and the conversations the fast path
cannot hold exactly:

* ``template_choice``: the shipped template for a tokenizer (fast path), or its own (general path).
* ``own_template``: a template as it is, rendered in transformers' sandbox; its probes (renders tools, arguments as
  mappings or JSON text, end-of-turn tokens) and its stop tokens (``stop_tokens``: eos, generation config).
* ``turn_texts``: each assistant turn's inference prompt and generated text, through its stop token.
* ``turn_rows``: one training row where the ids of the turns chain exactly, else one row per chained run.
* ``turn_encoder``: a batch of conversations turn by turn, one encoder call, truncation per row.
* ``span_edges``: whether a token of the whole text crosses a generation span's edge (the fast path hands such
  conversations to the general path).

After tokenization:

* ``packing``: best-fit-decreasing packing into ``max_length`` bins with restarting ``position_ids``.
* ``collator``: ``ToolCallCollator`` for ``transformers.Trainer`` and TRL ``SFTTrainer`` (padded or padding-free).

The public names are importable from ``toolcall_templates`` itself.
"""
