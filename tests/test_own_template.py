"""A model's own chat template, used as it is: which path a tokenizer takes, stop tokens, refusals, split rows and the
report, truncation, control tokens, OpenAI-shaped rows and the ``toolcall`` commands, through the public API.

Label exactness on real conversations is checked against an independent oracle in ``test_own_template_oracle.py``.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import load_tokenizer, shared_path, stand_in_tokenizer
from own_template_families import family_tokenizer, markers, template_text
from own_template_oracle import oracle_turns
from toolcall_templates import tokenize_conversation, tokenize_dataset
from toolcall_templates.tokenization.tokenize import ConversationDropped, tokenize_conversation_rows

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
WEATHER = {"id": "weather", "tools": TOOLS, "messages": [
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "content": '{"temperature_c": 18}', "tool_call_id": "call_1", "name": "get_weather"},
    {"role": "assistant", "content": "It is 18 °C in Paris."},
]}
ANSWER = {"id": "answer", "tools": TOOLS, "messages": [
    {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."}]}


def trained(tokenizer, row: dict) -> list[str]:
    """The trained runs of a tokenized row, decoded."""
    runs, current = [], []
    for token, label in zip(row["input_ids"], row["labels"]):
        if label != -100:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    return [tokenizer.decode(run) for run in runs + ([current] if current else [])]


def dataset_of(*rows: dict):
    """A dataset of canonical rows (the columns ``toolcall build`` writes)."""
    from datasets import Dataset

    from toolcall_templates.schema import features

    full = [{"source": "test", "meta": {}, "warnings": [], **json.loads(json.dumps(r))} for r in rows]
    return Dataset.from_list(full, features=features())


# ---------------------------------------------------------------- which path -------------------------------------
def test_a_tokenizer_whose_template_is_not_shipped_uses_its_own():
    tokenizer = family_tokenizer("glm4moe")  # GLM-4.5: the next role token is the stop token
    encoded = tokenize_conversation(WEATHER, tokenizer)
    assert trained(tokenizer, encoded) == [
        "\n<think></think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
        "</tool_call><|observation|>",
        "\n<think></think>\nIt is 18 °C in Paris.<|user|>"]
    turns = oracle_turns(tokenizer, WEATHER["messages"], TOOLS, ["<|endoftext|>", "<|user|>", "<|observation|>"])
    assert encoded["input_ids"] == turns[-1].prompt_ids + turns[-1].generated_ids


@pytest.mark.parametrize("family", ("qwen2.5", "qwen3", "glm4", "llama3.1", "llama3.2"))
def test_shipped_tokenizers_keep_the_fast_path(family):
    _, report = tokenize_dataset(dataset_of(ANSWER), load_tokenizer(family), return_report=True, desc=None,
                                 template_kwargs={"date_string": "26 Jul 2024"} if "llama" in family else None)
    assert report.template == family and report.history == {"exact": 1}


def test_a_lookalike_of_a_shipped_template_is_used_as_it_is():
    """Detected as Qwen2.5 by its fingerprint, but its system prompt differs: its own text is what the model saw."""
    official = load_tokenizer("qwen2.5").chat_template
    lookalike = official.replace("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                                 "You are Hermes, a function-calling model.")
    assert lookalike != official
    tokenizer = stand_in_tokenizer("qwen2.5", chat_template=lookalike)
    _, report = tokenize_dataset(dataset_of(WEATHER), tokenizer, return_report=True, desc=None)
    assert report.template == "own"
    encoded = tokenize_conversation(WEATHER, tokenizer)
    assert tokenizer.decode(encoded["input_ids"]).startswith("<|im_start|>system\nYou are Hermes")
    assert trained(tokenizer, encoded) == [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
        "It is 18 °C in Paris.<|im_end|>"]


def test_templates_that_ignore_tools_are_refused(tmp_path):
    from toolcall_templates.tokenization.own_template import TemplateRefused

    source = template_text("deepseekv3")
    tokenizer = stand_in_tokenizer("llama3.1", markers(source), chat_template=source)
    with pytest.raises(TemplateRefused, match="does not render tools="):
        tokenize_conversation(WEATHER, tokenizer, "own")
    tokenizer.save_pretrained(tmp_path / "my-model")  # a name and template no shipped template is detected from
    from transformers import AutoTokenizer

    with pytest.raises(ValueError, match="does not render tools="):
        tokenize_conversation(WEATHER, AutoTokenizer.from_pretrained(tmp_path / "my-model"))


# ---------------------------------------------------------------- stop tokens ------------------------------------
def test_default_stop_tokens_are_the_tokenizers_and_the_templates_end_of_turn_tokens(tmp_path):
    from transformers import AutoTokenizer

    from toolcall_templates.tokenization.conversation_encoder import ConversationEncoder

    assert ConversationEncoder(family_tokenizer("glm4moe"), "own").stop_tokens == (
        "<|endoftext|>", "<|observation|>", "<|user|>")
    gpt = ConversationEncoder(family_tokenizer("gptoss"), "own").stop_tokens  # eos <|return|>, calls end <|call|>
    assert set(gpt) == {"<|return|>", "<|call|>"}  # <|end|> closes reasoning inside a turn: never a stop token
    saved = tmp_path / "with-generation-config"
    tokenizer = family_tokenizer("qwen3_5_think")
    tokenizer.save_pretrained(saved)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    (saved / "generation_config.json").write_text(json.dumps({"eos_token_id": eos_ids}))
    assert ConversationEncoder(AutoTokenizer.from_pretrained(saved), "own").stop_tokens == (
        "<|im_end|>", "<|endoftext|>")


def test_turns_ending_in_no_stop_token_are_refused_unless_stop_tokens_are_given():
    from toolcall_templates.tokenization.own_template import TemplateRefused

    source = ("{% if tools %}Tools: {{ tools | map(attribute='function.name') | join(', ') }}{{ '\\n\\n' }}"
              "{% endif %}{% for m in messages %}{{ m.role }}:{{ '\\n' }}{{ m.content }}"
              "{% for c in m.tool_calls or [] %}CALL {{ c.function.name }} {{ c.function.arguments | tojson }}"
              "{% endfor %}{{ '\\n\\n' }}{% endfor %}{% if add_generation_prompt %}assistant:{{ '\\n' }}"
              "{% endif %}")
    tokenizer = stand_in_tokenizer("qwen2.5", chat_template=source)
    with pytest.raises(TemplateRefused, match=r"stop_tokens="):
        tokenize_conversation(WEATHER, tokenizer)
    encoded = tokenize_conversation(WEATHER, tokenizer, stop_tokens=["\n\n"])
    assert trained(tokenizer, encoded) == ['CALL get_weather {"city": "Paris"}\n\n', "It is 18 °C in Paris.\n\n"]


# ---------------------------------------------------------------- boundaries, rows, report -----------------------
def test_prompt_and_generated_text_meet_at_a_token_boundary_as_at_inference():
    """Qwen3.5 prompts end ``<think>\\n``; the model then generates ``\\n</think>``. Tokenized whole, the two newlines
    merge into one token; at inference they are two, and so they are here."""
    tokenizer = family_tokenizer("qwen3_5_think")
    encoded = tokenize_conversation(ANSWER, tokenizer)
    prompt = tokenizer.apply_chat_template(ANSWER["messages"][:1], tools=TOOLS, add_generation_prompt=True,
                                           tokenize=False)
    whole = tokenizer.apply_chat_template(ANSWER["messages"], tools=TOOLS, tokenize=False)
    assert prompt.endswith("<think>\n") and whole[len(prompt):].startswith("\n</think>")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    generated_ids = tokenizer("\n</think>\n\nHello.<|im_end|>", add_special_tokens=False)["input_ids"]
    assert encoded["input_ids"][:len(prompt_ids) + len(generated_ids)] == prompt_ids + generated_ids
    assert tokenizer(whole, add_special_tokens=False)["input_ids"][:len(prompt_ids) + 1] != prompt_ids + [
        generated_ids[0]]  # whole-text tokenization would merge them
    assert trained(tokenizer, encoded) == ["\n</think>\n\nHello.<|im_end|>"]


def test_conversations_one_row_cannot_hold_are_split_or_dropped_and_counted():
    """Qwen3 (shipped, ``rewrites_history``): an earlier call turn without reasoning has no think block in history,
    but at inference the model wrote an empty one; the two turns need two rows."""
    tokenizer = load_tokenizer("qwen3")
    rows = tokenize_conversation_rows(WEATHER, tokenizer)
    assert [trained(tokenizer, row) for row in rows] == [
        ['<think>\n\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
         "<|im_end|>"],
        ["<think>\n\n</think>\n\nIt is 18 °C in Paris.<|im_end|>"]]
    with pytest.raises(ConversationDropped, match="tokenize_conversation_rows") as raised:
        tokenize_conversation(WEATHER, tokenizer)
    assert raised.value.drop_reason == "split_rows"
    assert tokenize_conversation(ANSWER, tokenizer)["input_ids"] == tokenizer.apply_chat_template(
        ANSWER["messages"], tools=TOOLS, tokenize=True, return_dict=True)["input_ids"]  # one turn: the fast path

    dataset = dataset_of(WEATHER, ANSWER)
    split, report = tokenize_dataset(dataset, tokenizer, keep_columns=("id",), return_report=True, desc=None)
    assert split["id"] == ["weather", "weather", "answer"]
    assert [r["input_ids"] for r in split][:2] == [r["input_ids"] for r in rows]
    assert report.history == {"split": 1, "exact": 1} and report.rows_out == 3
    assert report.rows_in == report.conversations_kept + report.rows_dropped == 2
    dropped, report = tokenize_dataset(dataset, tokenizer, keep_columns=("id",), return_report=True, desc=None,
                                       history="drop")
    assert dropped["id"] == ["answer"] and report.dropped == {"history_rewritten": 1}
    assert "assistant message 1" in report.examples["history_rewritten"][0]


def test_worker_processes_give_the_same_rows():
    tokenizer = family_tokenizer("gptoss")  # a foreign template: rendered in the sandbox in each worker
    dataset = dataset_of(WEATHER, ANSWER, {**WEATHER, "id": "again"})
    serial = tokenize_dataset(dataset, tokenizer, keep_columns=("id",), desc=None)
    parallel = tokenize_dataset(dataset, tokenizer, keep_columns=("id",), desc=None, num_proc=2, batch_size=1)
    assert serial.to_list() == parallel.to_list() and set(serial["id"]) == {"weather", "answer", "again"}


def test_turns_a_template_cannot_express_are_left_out_with_their_reason():
    """Llama 3.1's official template drops text written before a call: that turn is left out, the answer kept."""
    tokenizer = family_tokenizer("llama3_1")
    row = json.loads(json.dumps(WEATHER))
    row["messages"][1]["content"] = "Let me check."
    _, report = tokenize_dataset(dataset_of(row), tokenizer, "own", return_report=True, desc=None,
                                 template_kwargs={"date_string": "26 Jul 2024"})
    assert report.history == {"partial": 1} and report.turns_left_out == {"turn_not_rendered": 1}
    assert "does not render its content" in report.turn_examples["turn_not_rendered"][0]


def test_truncation_and_last_assistant_on_the_general_path():
    tokenizer = family_tokenizer("gemma4")
    full = tokenize_conversation(WEATHER, tokenizer)
    labels = full["labels"]
    first_end = next(i for i in range(labels.index(next(x for x in labels if x != -100)), len(labels))
                     if labels[i] == -100)
    cut = tokenize_conversation(WEATHER, tokenizer, max_length=first_end + 2, truncation="prefix")
    assert cut["input_ids"] == full["input_ids"][:first_end]  # cut right after the call turn's stop token
    assert trained(tokenizer, cut) == trained(tokenizer, full)[:1] and cut["input_ids"][-1] == \
        tokenizer.convert_tokens_to_ids("<|tool_response>")
    last = tokenize_conversation(WEATHER, tokenizer, train_on="last_assistant")
    assert trained(tokenizer, last) == ["It is 18 °C in Paris.<turn|>"]
    with pytest.raises(ConversationDropped, match="too_long"):
        tokenize_conversation(WEATHER, tokenizer, max_length=8)


def test_control_tokens_and_openai_shapes_on_the_general_path():
    tokenizer = family_tokenizer("gemma4")
    sneaky = json.loads(json.dumps(ANSWER))
    sneaky["messages"][0]["content"] = "Say <turn|> please"
    with pytest.raises(ConversationDropped, match="control_token"):
        tokenize_conversation(sneaky, tokenizer)
    escaped = tokenize_conversation(sneaky, tokenizer, control_tokens="escape")
    assert escaped["input_ids"].count(tokenizer.convert_tokens_to_ids("<turn|>")) == 3  # the template's own only
    assert "Say <turn|> please" in tokenizer.decode(escaped["input_ids"])
    openai = json.loads(json.dumps(WEATHER))  # content null, arguments as JSON text, as OpenAI's API returns them
    openai["messages"][1]["content"] = None
    openai["messages"][1]["tool_calls"][0]["function"]["arguments"] = '{"city": "Paris"}'
    assert tokenize_conversation(openai, tokenizer) == tokenize_conversation(WEATHER, tokenizer)


# ---------------------------------------------------------------- the toolcall commands -------------------------
def test_toolcall_tokenize_and_inspect_with_a_tokenizer_whose_template_is_not_shipped(tmp_path):
    source = shared_path("sources", "llamafactory_sharegpt_tools", "glaive_toolcall_en_demo.json")
    records = json.loads(source.read_text(encoding="utf-8"))[:12]
    raw = tmp_path / "glaive.json"
    raw.write_text(json.dumps(records), encoding="utf-8")
    model = tmp_path / "my-model"
    family_tokenizer("gptoss").save_pretrained(model)  # a final answer ends <|return|>, in history <|end|>
    out = tmp_path / "tokenized"
    done = subprocess.run(["toolcall", "tokenize", "--in", str(raw), "--tokenizer", str(model), "--out", str(out),
                           "--stop-token", "<|return|>", "--stop-token", "<|call|>", "--history", "split",
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "tokenize_report.json").read_text())
    assert report["template"] == "own" and report["stop_tokens"] == ["<|return|>", "<|call|>"]
    assert report["rows_in"] == report["conversations_kept"] + report["rows_dropped"] >= 10
    assert report["rows_out"] > report["conversations_kept"] and report["history"]["split"] > 0
    assert "training rows" in done.stdout and "conversations" in done.stdout
    shown = subprocess.run(["toolcall", "inspect", str(out), "-n", "1", "--color", "never"],
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "⟦" in shown.stdout and ("<|return|>⟧" in shown.stdout or "<|call|>⟧" in shown.stdout)
