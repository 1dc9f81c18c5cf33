"""ToolBench (OpenBMB) DFS answer files: one answer file (one JSON object) → one canonical row.

Answer file: ``{"answer_generation": {"valid_data", "function": [...], "train_messages": [[message, ...], ...],
"finish_type", "final_answer", "query", ...}, "win", "tree", ...}``. ``function`` holds legacy OpenAI schemas with the
extra ``optional`` list and ``example_value`` per property; messages are legacy OpenAI function calling (assistant
``function_call`` with pretty-printed JSON ``arguments``, role ``function`` results ``{"error", "response"}``).

Decisions:

* **Chain.** ``train_messages`` holds one chain per DFS step (each a prefix of the next, or a restarted branch). The
  row uses the *last* chain that ends with a ``Finish`` call, preferring one whose ``return_type`` is
  ``give_answer``: that is the finished trajectory. ``meta`` records ``chain_index`` / ``chain_count``.
* **Finish**, option ``finish``:
  ``"answer"`` (default): the ``Finish`` call is dropped, its ``final_answer`` becomes the final assistant text, any
  text written in the ``Finish`` turn (the model's thought) becomes that turn's ``reasoning_content``, and the
  ``Finish`` pseudo-tool is removed from ``tools``. A chain that ends in ``give_up_and_restart`` has no answer and is
  rejected. ``"call"``: ``Finish`` stays an ordinary tool call and the row ends on it (ToolLLaMA's view); give-up
  chains are then kept too, with ``meta["finish_type"] = "give_up"``.
* ``valid_data: false`` files (the search found no valid answer; they carry no ``train_messages``) are rejected.
* DFS *diversity prompts* (user turns marked ``valid: false``: "This is not the first time you try this task...")
  are kept as user turns: the following assistant text answers them. Their number is ``meta["diversity_prompts"]``.
* The AutoGPT system prompt and the user text (with its ``Begin!`` suffix) are kept verbatim.
* Query records of ``instruction/*.json`` (``query`` + ``api_list``/``query_id``, no answer) are recognized and
  rejected with a reason rather than crashing. ToolLLaMA training rows (``conversations`` with ReAct text) belong to
  the ``react`` format.
"""

from __future__ import annotations

from typing import Any

from ..arguments import parse_arguments
from ..conversation import ConversationBuilder, as_text
from ..errors import InvalidRecord
from ..schema import Row
from ..tool_schema import normalize_tools
from ._instructions import build_clean_row
from ._reference import option_choice, provenance
from .openai import add_openai_message

FORMAT = "toolbench"
OPTIONS: tuple[str, ...] = ("license", "language", "finish", "keep_format_instructions")
UPSTREAM_LICENSE = "apache-2.0"
FINISH = "Finish"
_FINISH_MODES = ("answer", "call")


def detect(record: dict) -> bool:
    if isinstance(record.get("answer_generation"), dict):
        return True
    return _is_query_record(record)


def _is_query_record(record: dict) -> bool:
    return (isinstance(record.get("query"), str) and ("api_list" in record or "query_id" in record)
            and not any(key in record for key in ("answers", "messages", "conversations", "tools")))


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    generation = record.get("answer_generation")
    if not isinstance(generation, dict):
        if _is_query_record(record):
            raise InvalidRecord("ToolBench query record (instruction file): it holds a query and its API list but no "
                                "answer, so there is no conversation to normalize")
        raise InvalidRecord("ToolBench record has no 'answer_generation' object")
    mode = option_choice(options, "finish", _FINISH_MODES)
    if generation.get("valid_data") is False:
        raise InvalidRecord("ToolBench answer file has valid_data: false (the search found no valid answer chain)")
    chains = generation.get("train_messages")
    if not isinstance(chains, list) or not chains:
        raise InvalidRecord("ToolBench answer file has no 'train_messages' chains")
    index, chain, finish = _pick_chain(chains)
    return_type = finish.get("return_type")
    if return_type != "give_answer" and mode == "answer":
        raise InvalidRecord(f"ToolBench chain ends in Finish with return_type {return_type!r}: the model gave up, "
                            "so there is no final answer (use option finish='call' to keep give-up chains)")
    tools, notes = normalize_tools(generation.get("function"), "answer_generation.function")
    builder = ConversationBuilder(tools)
    builder.notes += notes
    messages = chain if mode == "call" else chain[:-1]
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRecord(f"train_messages[{index}][{position}] is not an object")
        add_openai_message(builder, message, f"train_messages[{index}][{position}]")
    if mode == "answer":
        _add_final_answer(builder, chain[-1], finish)
        if not _calls_named(builder, FINISH):
            builder.tools = [t for t in builder.tools if t["function"]["name"] != FINISH]
    meta: dict[str, Any] = {
        "finish_type": "give_answer" if return_type == "give_answer" else "give_up",
        "chain_index": index,
        "chain_count": len(chains),
        "diversity_prompts": sum(1 for m in chain if isinstance(m, dict) and m.get("valid") is False),
        **provenance(options, UPSTREAM_LICENSE),
    }
    if isinstance(generation.get("query_count"), int):
        meta["query_count"] = generation["query_count"]
    return build_clean_row(builder, source, meta, strict, options, user_prompt=True)


def _pick_chain(chains: list[Any]) -> tuple[int, list[Any], dict[str, Any]]:
    """``(index, chain, finish_arguments)`` of the last chain ending in Finish, give_answer chains first."""
    finished: list[tuple[int, list[Any], dict[str, Any]]] = []
    for index, chain in enumerate(chains):
        if not isinstance(chain, list) or not chain:
            continue
        call = _finish_call(chain[-1])
        if call is not None:
            finished.append((index, chain, _finish_arguments(call, index)))
    if not finished:
        raise InvalidRecord(f"none of the {len(chains)} ToolBench chains ends with a Finish call")
    answered = [item for item in finished if item[2].get("return_type") == "give_answer"]
    return (answered or finished)[-1]


def _finish_call(message: Any) -> dict | None:
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return None
    call = message.get("function_call")
    if isinstance(call, dict) and call.get("name") == FINISH:
        return call
    for tool_call in message.get("tool_calls") or []:
        function = tool_call.get("function") if isinstance(tool_call, dict) else None
        if isinstance(function, dict) and function.get("name") == FINISH:
            return function
    return None


def _finish_arguments(call: dict, index: int) -> dict[str, Any]:
    try:
        arguments, _ = parse_arguments(call.get("arguments"))
    except InvalidRecord as exc:
        raise InvalidRecord(f"train_messages[{index}]: Finish arguments: {exc.reason}") from None
    return arguments


def _add_final_answer(builder: ConversationBuilder, message: dict, finish: dict[str, Any]) -> None:
    answer = finish.get("final_answer")
    if not isinstance(answer, str) or not answer.strip():
        raise InvalidRecord("Finish(give_answer) has no final_answer text")
    others = [c for c in message.get("tool_calls") or [] if not (isinstance(c, dict) and isinstance(
        c.get("function"), dict) and c["function"].get("name") == FINISH)]
    if others:
        raise InvalidRecord("the Finish turn also calls other tools, whose results never come: no final answer turn "
                            "can be built (use option finish='call')")
    thought = as_text(message.get("content"), "Finish turn content")
    builder.assistant(answer, thought if thought.strip() else None)


def _calls_named(builder: ConversationBuilder, name: str) -> bool:
    return any(c["function"]["name"] == name for m in builder.messages for c in m.get("tool_calls", []))
