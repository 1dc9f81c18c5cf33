"""Tool definitions written into prompts: ReAct / ms_agent API lists, Qwen plugin specs, ToolBench API dumps.

Recognized shapes (anything else leaves ``tools`` empty; the calls then get "undeclared" warnings):

* ToolBench / ToolLLaMA: ``Specifically, you have access to the following APIs: [{...}, ...]`` (Python repr);
* JSON or Python-repr tool objects standing on their own line (ms-swift ``react_en`` / ``react_zh`` prompts);
* one description per entry, ``[N. ]name: description Parameters: <JSON list or schema>`` (Qwen ReAct, ms_agent,
  Qwen-Agent ``### title`` entries, Chinese ``输入参数：``). Parameter lists
  ``[{"name", "description", "required", "schema"|"type"}]`` become JSON Schema objects; unknown types become string.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidRecord
from ..schema import Tool
from ..tool_schema import map_type_name, normalize_parameters, normalize_tool
from ._literal import balanced_end, try_decode
from ._tool_defs import merge_tools

_API_DUMP = re.compile(r"Specifically, you have access to the following APIs:\s*")
_ENTRY = re.compile(
    r"^[ \t]*(?:\d+\s*[.)、]\s*)?(?P<name>[A-Za-z_][\w.\-]*)[ \t]*[:：][ \t]*(?P<body>[^\n]*?)"
    r"(?:Input parameters|Parameters|输入参数)[ \t]*[:：][ \t]*(?=[\[{])",
    re.MULTILINE,
)
_BOILERPLATE = (
    re.compile(r"^(?:Call|Invoke) this tool to interact with\s+(?:the )?.*?\s*API\.\s*"),
    re.compile(r"^What is (?:the )?.*?(?: API)? (?:useful|used) for\?\s*"),
    re.compile(r"^调用此工具与\s*.*?\s*API\s*进行交互。\s*"),
    re.compile(r"^\S.*?\s*有什么用？\s*"),
)
_TRUE_STRINGS = {"true", "yes", "1", "required"}


def tools_from_prompt(text: str) -> list[Tool]:
    """Tool definitions found in a system / instruction prompt (empty list when none are recognizable)."""
    for finder in (_tools_from_api_dump, _tools_from_object_lines, _tools_from_entries):
        tools = finder(text)
        if tools:
            return merge_tools(tools)
    return []


def plugin_to_tool(spec: Any, where: str) -> Tool:
    """One tool from an OpenAI / bare spec or a Qwen plugin spec (``name_for_model``, list-form ``parameters``)."""
    if isinstance(spec, dict) and "function" not in spec and ("name_for_model" in spec or _is_param_list(spec.get("parameters"))):
        name = spec.get("name_for_model") or spec.get("name")
        description = spec.get("description_for_model", spec.get("description")) or ""
        return {
            "type": "function",
            "function": {
                "name": str(name).strip() if name else _missing_name(where),
                "description": description if isinstance(description, str) else str(description),
                "parameters": parameter_schema(spec.get("parameters"), where),
            },
        }
    return normalize_tool(spec, where)


def plugin_tools(raw: Any, where: str) -> list[Tool]:
    """A list of tool specs in any of the shapes ``plugin_to_tool`` accepts."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidRecord(f"{where} must be a list of tool definitions, got {type(raw).__name__}")
    return [plugin_to_tool(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def parameter_schema(parameters: Any, where: str) -> dict[str, Any]:
    """JSON Schema object from a parameter list (Qwen / ms_agent style) or any shape ``normalize_parameters`` takes."""
    if not _is_param_list(parameters):
        return normalize_parameters(parameters, where)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for item in parameters:
        name = item["name"]
        prop: dict[str, Any] = {}
        schema = item.get("schema")
        type_name = schema.get("type") if isinstance(schema, dict) else item.get("type")
        if isinstance(schema, dict):
            prop.update({k: v for k, v in schema.items() if k != "type"})
        mapped = map_type_name(type_name)[0] if isinstance(type_name, str) else {"type": "string"}
        prop = {**mapped, **prop}
        if isinstance(item.get("description"), str):
            prop["description"] = item["description"]
        properties[name] = prop
        if _truthy(item.get("required")):
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def _is_param_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("name"), str) for p in value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return value is True


def _missing_name(where: str) -> str:
    raise InvalidRecord(f"{where}: tool has no name")


def _tools_from_api_dump(text: str) -> list[Tool]:
    match = _API_DUMP.search(text)
    if not match or match.end() >= len(text) or text[match.end()] not in "[{":
        return []
    value = _bracketed(text, match.end())
    if value is None:
        raise InvalidRecord("the API list after 'Specifically, you have access to the following APIs:' is not valid")
    return plugin_tools(value, "system prompt APIs")


def _tools_from_object_lines(text: str) -> list[Tool]:
    tools: list[Tool] = []
    for line_start in (m.start(1) for m in re.finditer(r"(?m)^[ \t]*(\{)", text)):
        value = _bracketed(text, line_start)
        if isinstance(value, dict) and (isinstance(value.get("function"), dict) or "name" in value or "name_for_model" in value):
            try:
                tools.append(plugin_to_tool(value, "system prompt tool"))
            except InvalidRecord:
                continue
    return tools


def _tools_from_entries(text: str) -> list[Tool]:
    tools: list[Tool] = []
    for match in _ENTRY.finditer(text):
        value = _bracketed(text, match.end())
        if not (_is_param_list(value) or value == [] or (isinstance(value, dict) and ("properties" in value or "type" in value))):
            continue
        tools.append({
            "type": "function",
            "function": {
                "name": match.group("name"),
                "description": _description(match.group("body")),
                "parameters": parameter_schema(value, f"system prompt tool {match.group('name')!r}"),
            },
        })
    return tools


def _description(body: str) -> str:
    text = body.strip()
    for pattern in _BOILERPLATE:
        text = pattern.sub("", text, count=1)
    text = text.strip()
    return "" if text.strip(".。 ") == "" else text


def _bracketed(text: str, start: int) -> Any | None:
    end = balanced_end(text, start)
    return None if end is None else try_decode(text[start:end])


def declared_tools(raw: Any, where: str = "tools") -> list[Tool]:
    """A record-level tool list (JSON string, list or single object) in any shape ``plugin_to_tool`` accepts."""
    if isinstance(raw, str):
        if not raw.strip():
            return []
        decoded = try_decode(raw)
        if decoded is None:
            raise InvalidRecord(f"{where} is neither JSON nor a Python literal: {raw.strip()[:120]!r}")
        raw = decoded
    if raw is None or raw == [] or raw == {}:
        return []
    return plugin_tools(raw, where)
