"""Salesforce xLAM / APIGen single-turn rows (``xlam-function-calling-60k`` and sets that keep its columns, such as
``argilla/apigen-function-calling`` or ``xlam-irrelevance-7.5k``).

Shape: ``{"id": int, "query": str, "tools": "<JSON list>", "answers": "<JSON list>"}``; ``tools`` and ``answers`` may
also arrive already decoded. Tools use flat argument maps (``{"arg": {"type": "List[int]", "description", "default"}}``,
no ``properties``/``required``): an argument is required unless it has a ``default`` or its type says optional
(``Optional[str]``, ``str, optional``). ``answers`` is a list of ``{"name", "arguments"}``; several = parallel calls.

Row: ``user(query)`` → one assistant turn with the calls (no tool results exist). Gold answers, so
``meta["reference_answer"] = True``; the upstream ``id`` goes to ``meta["upstream_id"]``. An empty answer list
(irrelevance rows) gives an assistant turn with the ``no_call_text`` refusal (see ``_reference``).
"""

from __future__ import annotations

from typing import Any

from ..arguments import parse_json_value
from ..conversation import ConversationBuilder
from ..errors import InvalidRecord
from ..schema import Row, Tool
from ..tool_schema import normalize_tools
from ._reference import no_call_text, provenance

FORMAT = "xlam"
OPTIONS: tuple[str, ...] = ("license", "language", "no_call_text")
_PLACEHOLDER = "__xlam_argument_named_properties__"


def detect(record: dict) -> bool:
    return isinstance(record.get("query"), str) and "answers" in record and "tools" in record


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidRecord("xLAM record has no 'query' text")
    tools, notes = normalize_tools(_prepare_tools(parse_json_value(record.get("tools"), "tools")), "tools")
    _restore_placeholder(tools)
    answers = _answers(record.get("answers"))
    builder = ConversationBuilder(tools)
    builder.notes += notes
    builder.user(query)
    meta: dict[str, Any] = {"reference_answer": True, **provenance(options)}
    if isinstance(record.get("id"), (str, int)) and not isinstance(record.get("id"), bool):
        meta["upstream_id"] = str(record["id"])
    if not answers:
        builder.assistant(no_call_text(options))
        meta.update(irrelevance=True, synthetic_content=True)
    for index, answer in enumerate(answers):
        if not isinstance(answer, dict):
            raise InvalidRecord(f"answers[{index}] must be an object, got {type(answer).__name__}")
        name = answer.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidRecord(f"answers[{index}] has no function name")
        builder.call(name, answer.get("arguments", answer.get("parameters")))
    return builder.build(source, meta, strict)


def _answers(raw: Any) -> list[Any]:
    answers = parse_json_value(raw, "answers")
    if answers is None or answers == "":
        raise InvalidRecord("xLAM record has no 'answers'")
    if isinstance(answers, dict):
        return [answers]
    if not isinstance(answers, list):
        raise InvalidRecord(f"'answers' must be a list of calls, got {type(answers).__name__}")
    return answers


def _prepare_tools(tools: Any) -> Any:
    """An argument *named* ``properties`` in a flat argument map is renamed first, so that the map does not read
    as a JSON Schema (``normalize_parameters`` then maps the Python-style type strings)."""
    if not isinstance(tools, list):
        return tools
    prepared = []
    for tool in tools:
        params = tool.get("parameters") if isinstance(tool, dict) else None
        if isinstance(params, dict) and _is_flat(params):
            params = {(_PLACEHOLDER if key == "properties" else key): value for key, value in params.items()}
            tool = {**tool, "parameters": params}
        prepared.append(tool)
    return prepared


def _is_flat(params: dict) -> bool:
    if params.get("type") in ("object", "dict"):
        return False
    return "properties" not in params or _is_flat_with_properties_argument(params)


def _is_flat_with_properties_argument(params: dict) -> bool:
    spec = params.get("properties")
    return (isinstance(spec, dict) and isinstance(spec.get("type"), str)
            and params.get("type") not in ("object", "dict"))


def _restore_placeholder(tools: list[Tool]) -> None:
    for tool in tools:
        schema = tool["function"]["parameters"]
        properties = schema.get("properties")
        if isinstance(properties, dict) and _PLACEHOLDER in properties:
            schema["properties"] = {("properties" if k == _PLACEHOLDER else k): v for k, v in properties.items()}
            if isinstance(schema.get("required"), list):
                schema["required"] = ["properties" if r == _PLACEHOLDER else r for r in schema["required"]]
