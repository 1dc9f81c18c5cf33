"""BFCL (Berkeley Function-Calling Leaderboard, v3/v4) questions joined with their ``possible_answer`` ground truth.

Use ``iter_records(path)`` on the BFCL data folder (or one question file): it attaches ``ground_truth`` by ``id`` and,
for multi-turn entries, the ``function`` docs of ``involved_classes`` minus ``excluded_function``. A record is then
``{"id", "question": [[{"role", "content"}, ...] per turn], "function": [...], "ground_truth": ...}``.

Rows are built from gold answers, so ``meta["reference_answer"] = True`` (plus ``category``, ``upstream_id`` and
``programming_language`` = python / java / javascript). Older spellings (v1/v2: ``question`` as a plain string or a
flat message list, ``ground_truth`` as one ``{"fn": {...}}`` object) are accepted too.

* **Single-turn** ground truth ``[{"fn": {"arg": [acceptable values]}}]`` → one assistant turn with one call per
  item (several = parallel). Each argument takes its **first** acceptable value, skipping ``""`` (BFCL's "may be
  omitted"); an argument whose only value is ``""`` is left out, and so is one whose values are ``""`` and ``None``
  (the default spelled out). Nested objects repeat the pattern and are resolved the same way.
* **Multi-turn** ground truth (one list of Python call strings per turn, e.g. ``"mv(source='a', destination='b')"``)
  is parsed with ``ast``; positional arguments are named by the function's parameter order. Each turn becomes its
  user message(s) followed by one assistant turn holding that turn's calls (BFCL executes them in order; no results
  are stored, so there are no tool messages). ``initial_config`` and ``involved_classes`` go to ``meta``.
* **No call expected** (irrelevance categories, and multi-turn turns with an empty answer): the assistant says the
  ``no_call_text`` refusal (``_reference.NO_CALL_TEXT`` unless overridden) and ``meta["synthetic_content"]`` is set.
  Option ``irrelevance="reject"`` rejects irrelevance rows instead.
* **live_relevance** rows have no ground truth (any call counts): rejected with that reason.
* **multi_turn_miss_func** rows add functions mid-conversation, which a static ``tools`` list cannot express: rejected
  by default (the same conversation is in ``multi_turn_base``). Option ``miss_func="merge"`` keeps them: the
  withheld functions are declared from the start, and the calls of the turn that adds them answer the preceding user
  turn (``meta["missed_function"]`` records what was withheld).
* Function names with dots (``math.factorial``) are sanitized to ``math_factorial`` in tools and calls (option
  ``sanitize_names=False`` keeps them); originals in ``meta["original_names"]``. ``dict`` / Java / JavaScript type
  names become JSON Schema types (the ground-truth values are JSON values of those types).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..conversation import ConversationBuilder
from ..errors import InvalidRecord
from ..schema import Row, Tool
from ..tool_schema import normalize_tools
from ._bfcl_files import iter_bfcl_records
from ._files import check_readable
from ._pycall import parse_calls
from ._reference import NameMap, no_call_text, option_choice, provenance
from .openai import add_openai_message

FORMAT = "bfcl"
OPTIONS: tuple[str, ...] = ("license", "language", "sanitize_names", "irrelevance", "miss_func", "no_call_text")
UPSTREAM_LICENSE = "apache-2.0"
_CATEGORY = re.compile(r"^(.*?)_\d+(?:-\d+)*$")
_OMIT = object()


def detect(record: dict) -> bool:
    question = record.get("question")
    shaped = (isinstance(question, str) or (isinstance(question, list) and bool(question) and (
        all(isinstance(turn, list) for turn in question)
        or all(isinstance(m, dict) and "role" in m for m in question))))
    return (isinstance(record.get("id"), str) and shaped
            and ("function" in record or "involved_classes" in record or "ground_truth" in record))


def iter_records(path: Path) -> Iterator[Any]:
    """BFCL question records of a data folder or question file, with answers and multi-turn docs attached."""
    return iter_bfcl_records(path)


def category_of(record_id: str) -> str:
    """``live_simple_3-2-1`` → ``live_simple``; ``multi_turn_base_0`` → ``multi_turn_base``."""
    match = _CATEGORY.match(record_id)
    return match.group(1) if match else record_id


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    check_readable(record)
    record_id = record.get("id")
    if not isinstance(record_id, str):
        raise InvalidRecord("BFCL record has no string 'id'")
    category = category_of(record_id)
    turns = _question_turns(record.get("question"))
    multi_turn = "involved_classes" in record or category.startswith("multi_turn")
    if "function" not in record:
        hint = " (multi-turn: load it with iter_records so that multi_turn_func_doc is attached)" if multi_turn else ""
        raise InvalidRecord(f"BFCL record {record_id} has no 'function' list{hint}")
    tools, notes = normalize_tools(record["function"], "function")
    names = NameMap(tools, enabled=options.get("sanitize_names", True))
    builder = ConversationBuilder(tools)
    builder.notes += notes
    meta: dict[str, Any] = {"reference_answer": True, "upstream_id": record_id, "category": category,
                            "programming_language": _programming_language(category),
                            **provenance(options, UPSTREAM_LICENSE)}
    truth = record.get("ground_truth")
    if truth is None:
        _no_truth_row(builder, turns, category, options, meta)
    elif multi_turn:
        _multi_turn_row(builder, turns, truth, record, names, options, meta)
    else:
        _single_turn_row(builder, turns, truth, names)
    meta.update(names.meta())
    return builder.build(source, meta, strict)


def _programming_language(category: str) -> str:
    if "javascript" in category:
        return "javascript"
    return "java" if "java" in category else "python"


def _question_turns(question: Any) -> list[list[dict]]:
    """Turns of messages; BFCL v1/v2 spellings (a plain string, one flat message list) are accepted too."""
    if isinstance(question, str) and question.strip():
        return [[{"role": "user", "content": question}]]
    if not isinstance(question, list) or not question:
        raise InvalidRecord("BFCL record has no 'question' turns")
    if all(isinstance(m, dict) for m in question):
        return [question]
    for index, turn in enumerate(question):
        if not isinstance(turn, list) or not all(isinstance(m, dict) for m in turn):
            raise InvalidRecord(f"question[{index}] must be a list of messages")
    return question


def _add_turn_messages(builder: ConversationBuilder, turn: list[dict], index: int) -> None:
    for position, message in enumerate(turn):
        add_openai_message(builder, message, f"question[{index}][{position}]")


# -- rows without ground truth ---------------------------------------------------------------------------------
def _no_truth_row(builder: ConversationBuilder, turns: list[list[dict]], category: str, options: dict,
                  meta: dict) -> None:
    if "irrelevance" not in category:
        if "relevance" in category:
            raise InvalidRecord(f"BFCL {category} rows have no ground truth (any call counts as correct), so no "
                                "reference answer can be built")
        raise InvalidRecord(f"BFCL {category} record has no ground_truth: load BFCL with iter_records(folder) so "
                            "that possible_answer/<file> is joined by id")
    if option_choice(options, "irrelevance", ("keep", "reject")) == "reject":
        raise InvalidRecord(f"BFCL {category} row rejected by option irrelevance='reject' (no call is expected)")
    for index, turn in enumerate(turns):
        _add_turn_messages(builder, turn, index)
    builder.assistant(no_call_text(options))
    meta.update(irrelevance=True, synthetic_content=True)


# -- single turn -----------------------------------------------------------------------------------------------
def _single_turn_row(builder: ConversationBuilder, turns: list[list[dict]], truth: Any, names: NameMap) -> None:
    if isinstance(truth, dict):  # BFCL v1/v2: {"fn": {...}} instead of a list of such objects
        truth = [{name: arguments} for name, arguments in truth.items()]
    if not isinstance(truth, list) or not truth:
        raise InvalidRecord("BFCL ground_truth must be a non-empty list of calls")
    for index, turn in enumerate(turns):
        _add_turn_messages(builder, turn, index)
    for index, item in enumerate(truth):
        if not isinstance(item, dict) or len(item) != 1:
            raise InvalidRecord(f"ground_truth[{index}] must be an object with exactly one function name")
        (name, arguments), = item.items()
        if not isinstance(arguments, dict):
            raise InvalidRecord(f"ground_truth[{index}] {name!r}: arguments must be an object of value lists")
        call_args = {}
        for arg, alternatives in arguments.items():
            chosen = _first_acceptable(alternatives, f"{name}.{arg}")
            if chosen is not _OMIT:
                call_args[arg] = chosen
        builder.call(names.sanitized(name), call_args)


def _first_acceptable(alternatives: Any, where: str) -> Any:
    """The first acceptable value that is not ``""`` (resolved recursively), or ``_OMIT`` when there is none.

    When ``""`` (may be omitted) is among the values, ``None`` counts as omission too: it is the default spelled out.
    """
    if not isinstance(alternatives, list):
        raise InvalidRecord(f"ground truth of {where} must be a list of acceptable values, got "
                            f"{type(alternatives).__name__}")
    omissible = "" in alternatives
    for value in alternatives:
        if value != "" and not (value is None and omissible):
            return _resolve(value, where)
    return _OMIT


def _resolve(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            chosen = _first_acceptable(inner, f"{where}.{key}") if isinstance(inner, list) else inner
            if chosen is not _OMIT:
                out[key] = chosen
        return out
    if isinstance(value, list):
        return [_resolve(item, where) for item in value]
    return value


# -- multi turn ------------------------------------------------------------------------------------------------
def _multi_turn_row(builder: ConversationBuilder, turns: list[list[dict]], truth: Any, record: dict,
                    names: NameMap, options: dict, meta: dict) -> None:
    if isinstance(truth, list) and truth and all(isinstance(t, str) for t in truth):
        raise InvalidRecord("BFCL ground_truth holds final answer texts, not tool calls (agentic web_search / memory "
                            "category): there are no reference calls to build a row from")
    if not isinstance(truth, list) or not all(isinstance(t, list) for t in truth):
        raise InvalidRecord("BFCL multi-turn ground_truth must be a list (one per turn) of call-string lists")
    if any(not isinstance(call, str) for turn in truth for call in turn):
        raise InvalidRecord("BFCL multi-turn ground_truth entries must be Python call strings")
    if len(truth) != len(turns):
        raise InvalidRecord(f"BFCL multi-turn record has {len(turns)} question turns but {len(truth)} answer turns")
    missed = record.get("missed_function")
    if missed:
        if option_choice(options, "miss_func", ("reject", "merge")) == "reject":
            raise InvalidRecord(
                f"BFCL multi_turn_miss_func: functions {_missed_names(missed)} are only added mid-conversation, "
                "which a static tools list cannot express (the same conversation is in multi_turn_base; option "
                "miss_func='merge' folds the adding turn into the previous one)")
        meta["missed_function"] = missed
    parameters = _parameter_orders(builder.tools)
    planned: list[tuple[int, list[dict], list[tuple[str, dict]]]] = []
    for index, (turn, calls) in enumerate(zip(turns, truth)):
        parsed = [_parse_call(text, parameters, names, f"ground_truth[{index}]") for text in calls]
        if not turn and planned:
            planned[-1][2].extend(parsed)
        elif turn:
            planned.append((index, turn, parsed))
        elif parsed:
            raise InvalidRecord(f"BFCL turn {index} has calls but no question before it")
    synthetic = 0
    for index, turn, calls in planned:
        _add_turn_messages(builder, turn, index)
        if not calls:
            builder.assistant(no_call_text(options))
            synthetic += 1
        for name, arguments in calls:
            builder.call(name, arguments)
    if synthetic:
        meta.update(synthetic_content=True, synthetic_turns=synthetic)
    for key in ("involved_classes", "initial_config"):
        if key in record:
            meta[key] = record[key]


def _missed_names(missed: Any) -> list[str]:
    if isinstance(missed, dict):
        return [name for names in missed.values() if isinstance(names, list) for name in names]
    return [str(missed)]


def _parameter_orders(tools: list[Tool]) -> dict[str, list[str]]:
    orders = {}
    for tool in tools:
        properties = tool["function"]["parameters"].get("properties")
        orders[tool["function"]["name"]] = list(properties) if isinstance(properties, dict) else []
    return orders


def _parse_call(text: str, parameters: dict[str, list[str]], names: NameMap, where: str) -> tuple[str, dict]:
    try:
        calls = parse_calls(text)
        if len(calls) != 1:
            raise InvalidRecord(f"expected one call, found {len(calls)}")
        call = calls[0]
        name = names.sanitized(call.name)
        return name, call.arguments(parameters.get(name))
    except InvalidRecord as exc:
        raise InvalidRecord(f"{where}: {exc.reason}") from None
