"""Source-format normalizers: one module per public tool-call format, and the registry that finds them.

Every module defines:

* ``FORMAT``: the format name used on the command line and in ``meta.format``;
* ``OPTIONS``: the names of the options ``to_row`` reads (a tuple, empty when it takes none): ``normalize`` refuses
  any other with ``UnknownOption``, so a misspelled option never passes silently;
* ``detect(record) -> bool``: whether a record looks like this format (cheap, no parsing of payloads);
* ``to_row(record, *, source, strict, options) -> Row``: the canonical row, or ``InvalidRecord`` naming the reason.

Detection tries the modules in ``_MODULE_NAMES`` order: the most specific shapes first.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..errors import UnknownFormat

_MODULE_NAMES: tuple[str, ...] = (
    "llamafactory_v1",
    "ms_swift",
    "glm4",
    "hermes",
    "qwen",
    "toolace",
    "react",
    "sharegpt",
    "glaive",
    "when2call",
    "xlam",
    "toolbench",
    "bfcl",
    "toolalpaca",
    "openai",
    "mapped",
)

_loaded: dict[str, ModuleType] = {}


def _modules() -> dict[str, ModuleType]:
    if not _loaded:
        for name in _MODULE_NAMES:
            try:
                module = importlib.import_module(f"{__name__}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"{__name__}.{name}":
                    continue
                raise
            _loaded[module.FORMAT] = module
    return _loaded


class UnknownOption(TypeError, ValueError):
    """An option the format does not take (a ``TypeError``, like an unexpected keyword argument)."""


def check_options(name: str, options: Any) -> None:
    """Raise ``UnknownOption`` naming the options of ``options`` that format ``name`` does not take, and the ones it
    takes."""
    accepted = getattr(get_format(name), "OPTIONS", None)
    if accepted is None or not options:
        return
    unknown = [key for key in options if key not in accepted]
    if unknown:
        takes = f"it takes {', '.join(accepted)}" if accepted else "it takes none"
        raise UnknownOption(f"format {name!r} does not take the option(s) {', '.join(map(repr, unknown))}; {takes}")


def list_formats() -> list[str]:
    """Names of all registered source formats."""
    return list(_modules())


def get_format(name: str) -> ModuleType:
    """The normalizer module of a format name (raises ValueError listing the known names)."""
    modules = _modules()
    if name not in modules:
        raise ValueError(f"unknown source format {name!r}; known formats: {', '.join(modules)}")
    return modules[name]


def detect_format(record: Any) -> str:
    """Name of the first format whose detector accepts the record; ``UnknownFormat`` when none does."""
    if not isinstance(record, dict):
        raise UnknownFormat(f"a record must be a JSON object, got {type(record).__name__}")
    for name, module in _modules().items():
        if module.detect(record):
            return name
    keys = ", ".join(sorted(map(str, record))[:12])
    raise UnknownFormat(f"no known tool-call format matches a record with keys [{keys}]")
