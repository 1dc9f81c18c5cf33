"""NVIDIA When2Call (``nvidia/When2Call``, CC-BY-4.0): when to call a tool, when to ask for what is missing, when to
decline. Read as the dataset card and the NVIDIA/When2Call README describe its three files:

* **test** (config ``test``, splits ``mcq`` / ``llm_judge``): ``{uuid, source, source_id, question, correct_answer,
  answers, target_tool, tools, orig_tools, orig_question, held_out_param}``. ``correct_answer`` is one of ``direct``,
  ``tool_call``, ``request_for_info``, ``cannot_answer``; ``answers`` holds one candidate response per class;
  ``tools`` is a list of JSON strings (BFCL style, ``"type": "dict"``), empty for most ``cannot_answer`` questions.
  Row: ``user(question)`` then the correct class's answer: ``tool_call`` is a JSON ``{"name", "arguments"}`` that
  becomes the call; ``request_for_info`` (a question asking for ``held_out_param``), ``cannot_answer`` (a refusal)
  and ``direct`` are the assistant's text.
* **train_sft** (config ``train_sft``): ``{tools, messages}`` with a user question and the assistant's answer; an
  answer that calls tools is ``<TOOLCALL>[{"name", "arguments"}, ...]</TOOLCALL>`` (several = parallel calls).
* **train_pref** (config ``train_pref``): ``{tools, messages, chosen_response, rejected_response}``. Row: the messages
  and the chosen response; the rejected response's text is kept in ``meta["rejected_response"]``.

Tools are JSON strings or objects (xLAM-style type names such as ``str``, function-level ``required``) and become
canonical specs. ``meta["answer_class"]`` is the class (test rows; ``tool_call`` for train rows that call tools) and
the test fields ``uuid``, ``source``, ``source_id`` (as ``upstream_id``, ``upstream_source``, ``upstream_source_id``),
``target_tool`` and ``held_out_param`` are kept in ``meta``.
"""

from __future__ import annotations

import re
from typing import Any

from ..arguments import parse_json_value
from ..conversation import ConversationBuilder, as_text
from ..errors import InvalidRecord
from ..schema import Row
from ._call_objects import call_objects
from ._located import add_call
from ._reference import provenance
from ._tool_defs import read_tools

FORMAT = "when2call"
OPTIONS: tuple[str, ...] = ("license", "language")
UPSTREAM_LICENSE = "cc-by-4.0"
ANSWER_CLASSES = ("direct", "tool_call", "request_for_info", "cannot_answer")
_TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL)
_TEST_META = {"uuid": "upstream_id", "source": "upstream_source", "source_id": "upstream_source_id",
              "target_tool": "target_tool", "held_out_param": "held_out_param"}


def detect(record: dict) -> bool:
    """A test record (``question`` + ``correct_answer`` + ``answers``), or a train record: a user question (and an
    answer) with When2Call's marks: a ``chosen_response``, a ``<TOOLCALL>`` answer, or bare BFCL-style tools."""
    if isinstance(record.get("question"), str) and "correct_answer" in record and "answers" in record:
        return True
    messages = record.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 2:
        return False
    if not all(isinstance(m, dict) and m.get("role") in ("user", "assistant") for m in messages):
        return False
    if isinstance(record.get("chosen_response"), dict):
        return True
    if any(isinstance(m.get("content"), str) and "<TOOLCALL>" in m["content"] for m in messages):
        return True
    tools = record.get("tools")
    return (isinstance(tools, list) and bool(tools) and all(_is_bare_dict_tool(t) for t in tools)
            and len(messages) == 2)


def _is_bare_dict_tool(tool: Any) -> bool:
    return (isinstance(tool, dict) and "function" not in tool and isinstance(tool.get("parameters"), dict)
            and tool["parameters"].get("type") == "dict")


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    if "correct_answer" in record or "question" in record:
        return _test_row(record, source, strict, options)
    return _train_row(record, source, strict, options)


def _test_row(record: dict, source: str, strict: bool, options: dict) -> Row:
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidRecord("When2Call record has no 'question' text")
    answer_class = record.get("correct_answer")
    if answer_class not in ANSWER_CLASSES:
        raise InvalidRecord(f"When2Call correct_answer must be one of {', '.join(ANSWER_CLASSES)}, got {answer_class!r}")
    answers = parse_json_value(record.get("answers"), "answers")
    if not isinstance(answers, dict):
        raise InvalidRecord(f"When2Call 'answers' must map answer classes to responses, got {type(answers).__name__}")
    answer = answers.get(answer_class)
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise InvalidRecord(f"When2Call answers has no {answer_class!r} response (the correct_answer)")
    builder = _builder(record.get("tools"))
    builder.user(question)
    if answer_class == "tool_call":
        for call in call_objects(answer, "answers.tool_call"):
            add_call(builder, "answers.tool_call", call.name, call.arguments, call.call_id)
    else:
        builder.assistant(as_text(answer, f"answers.{answer_class}"))
    meta: dict[str, Any] = {"answer_class": answer_class, **provenance(options, UPSTREAM_LICENSE)}
    meta.update({name: record[key] for key, name in _TEST_META.items() if record.get(key) not in (None, "")})
    return builder.build(source, meta, strict)


def _train_row(record: dict, source: str, strict: bool, options: dict) -> Row:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRecord("When2Call record has neither a 'question' nor a non-empty 'messages' list")
    turns = list(messages)
    chosen = record.get("chosen_response")
    if "chosen_response" in record:
        if not isinstance(chosen, dict):
            raise InvalidRecord(f"chosen_response must be a message object, got {type(chosen).__name__}")
        turns.append({"role": "assistant", **chosen})
    builder = _builder(record.get("tools"))
    for index, message in enumerate(turns):
        where = f"messages[{index}]" if index < len(messages) else "chosen_response"
        if not isinstance(message, dict):
            raise InvalidRecord(f"{where} is not an object")
        role, content = message.get("role"), message.get("content")
        if role == "user":
            builder.user(content)
        elif role == "system":
            builder.system(content)
        elif role == "assistant":
            _assistant(builder, as_text(content, where), where)
        else:
            raise InvalidRecord(f"{where} has unsupported role {role!r}")
    meta: dict[str, Any] = provenance(options, UPSTREAM_LICENSE)
    if any("tool_calls" in m for m in builder.messages):
        meta["answer_class"] = "tool_call"
    rejected = record.get("rejected_response")
    if isinstance(rejected, dict) and isinstance(rejected.get("content"), str):
        meta["rejected_response"] = rejected["content"]
    return builder.build(source, meta, strict)


def _assistant(builder: ConversationBuilder, text: str, where: str) -> None:
    """Assistant text; ``<TOOLCALL>[...]</TOOLCALL>`` blocks become its calls, the text around them its content."""
    blocks = list(_TOOLCALL.finditer(text))
    if not blocks:
        if "<TOOLCALL>" in text:
            raise InvalidRecord(f"{where}: <TOOLCALL> is not closed by </TOOLCALL>")
        builder.assistant(text)
        return
    outside = _TOOLCALL.sub("\n", text).strip()
    builder.assistant(outside)
    for block in blocks:
        for call in call_objects(block.group(1).strip(), f"{where} <TOOLCALL>"):
            add_call(builder, where, call.name, call.arguments, call.call_id)


def _builder(value: Any) -> ConversationBuilder:
    """A builder with the record's tools: a list of JSON strings (test files) or of objects (train files)."""
    items = parse_json_value(value, "tools") if value not in (None, "") else []
    if not isinstance(items, list):
        raise InvalidRecord(f"'tools' must be a list of tools, got {type(items).__name__}")
    tools, notes = read_tools([parse_json_value(item, f"tools[{i}]") for i, item in enumerate(items)], "tools")
    builder = ConversationBuilder(tools)
    builder.notes += notes
    return builder
