"""toolcall-templates: canonical tool-calling data, byte-exact chat templates, and exact label masks.

Heavy dependencies (datasets, transformers, torch) are imported lazily by the functions that need them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import InvalidRecord, UnknownFormat
from .exact_json import install_on_import as _install_exact_json
from .normalize import normalize, normalize_batch, normalize_records

_install_exact_json()  # datasets' Json() values exact on every path, whenever datasets is imported (exact_json)

__version__ = "0.1.0"

_EXPORTS = {
    "detect_format": "sources",
    "list_formats": "sources",
    "features": "schema",
    "Row": "schema",
    "Message": "schema",
    "Tool": "schema",
    "ToolCall": "schema",
    "get_template": "templates",
    "list_templates": "templates",
    "render": "templates",
    "apply_tool_template": "install",
    "parse_tool_calls": "parsing",
    "parse_assistant": "parsing",
    "build_dataset": "build",
    "load_unified": "loading",
    "restore_instructions": "sources._instructions",
    "SourceSpec": "build",
    "tokenize_conversation": "tokenization.tokenize",
    "tokenize_dataset": "tokenization.tokenize",
    "pack_dataset": "tokenization.packing",
    "ToolCallCollator": "tokenization.collator",
    "sft_conversations": "tokenization.sft_conversations",
}

__all__ = [
    "InvalidRecord", "UnknownFormat", "normalize", "normalize_batch", "normalize_records",
    "detect_format", "list_formats", "features", "Row", "Message", "Tool", "ToolCall",
    "get_template", "list_templates", "render", "apply_tool_template", "parse_tool_calls", "parse_assistant",
    "build_dataset", "load_unified", "restore_instructions", "SourceSpec", "tokenize_conversation", "tokenize_dataset", "pack_dataset", "ToolCallCollator",
    "sft_conversations",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'toolcall_templates' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
