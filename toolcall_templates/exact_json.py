"""Exact JSON values in ``datasets``, on every path a ``Dataset`` takes.

``datasets`` (5.x) turns ``Json()`` values into text and back with pandas' ``ujson_dumps`` / ``ujson_loads``, which
are not exact: ``8.854e-12`` is written as ``0.0`` (ten decimals), ``-0.0`` as ``0.0``, ``0.3`` is read back as
``0.30000000000000004``, and an integer beyond 2**64 wraps or fails (the value is then stored as a JSON *string*).
A template renders those digits into the training text. ``Dataset.from_list(rows, features=...)``, ``map``,
``select`` + ``flatten_indices``, ``to_list`` and the JSON loader all go through these two functions.

:func:`install` replaces them, in the ``datasets`` modules that hold them (``_MODULE_NAMES``), with the standard
library's ``json``: shortest round-trip float text, integers of any size, ``-0.0``, unicode and key order kept.
Values that are not JSON (NaN and infinities, numpy arrays, datetimes, ...) are written as ``datasets`` wrote them
before; numpy scalars by their exact value. The stored text is plain JSON, readable by ``datasets`` without this
package (with its own decoding caveat). One more function is replaced for the same columns: the table visitor that
``save_to_disk``, ``to_parquet`` and ``push_to_hub`` run, which pyarrow makes fail on JSON values inside all-null
lists (:func:`visit_storage`).

``import toolcall_templates`` calls :func:`install_on_import`, which patches the modules already imported and hooks
the import of the others, so ``datasets`` itself is never imported by it and the order of imports does not matter.
Both functions are idempotent.
"""

from __future__ import annotations

import importlib.abc
import json
import math
import sys
from typing import Any, Callable

_MODULE_NAMES: dict[str, tuple[str, ...]] = {
    "datasets.utils.json": ("ujson_dumps", "ujson_loads"),  # json_encode_field / json_decode_field (writer, to_list)
    "datasets.features.features": ("ujson_dumps", "ujson_loads"),  # the Json feature's encode / decode / cast
    "datasets.arrow_writer": ("ujson_dumps",),  # on_mixed_types="use_json"
    "datasets.packaged_modules.json.json": ("ujson_dumps", "ujson_loads"),  # load_dataset("json", ...)
    "datasets.arrow_dataset": ("table_visitor",),  # _estimate_nbytes: save_to_disk, to_parquet, push_to_hub
}
_ORIGINAL_HOMES = {"ujson_dumps": "datasets.utils.json", "ujson_loads": "datasets.utils.json",
                   "table_visitor": "datasets.table"}

_originals: dict[str, Callable[..., Any]] = {}


def exact_dumps(value: Any, *args: Any, **kwargs: Any) -> str:
    """JSON text of ``value`` that ``json.loads`` turns back into an equal value of the same types."""
    if args or kwargs:  # a caller asking for ujson's own options keeps ujson
        return _original("ujson_dumps")(value, *args, **kwargs)
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        pass
    try:
        return _ENCODER.encode(_as_before(value))
    except (TypeError, ValueError):  # e.g. keys that are not strings or numbers
        return _original("ujson_dumps")(value)


def exact_loads(text: Any, *args: Any, **kwargs: Any) -> Any:
    """``json.loads``: every number as written (``0.3`` stays ``0.3``, integers of any size)."""
    if args or kwargs:
        return _original("ujson_loads")(text, *args, **kwargs)
    return json.loads(text)


def visit_storage(table: Any, function: Callable[..., None]) -> None:
    """``datasets.table.table_visitor`` over the table's storage view (``arrow_storage.storage_table``).

    pyarrow cannot flatten a list of structs holding a JSON value when the list's entries are all null ("MakeBuilder:
    cannot construct builder for type extension<arrow.json>"), and ``datasets`` flattens every list column to look
    for media files before ``save_to_disk``, ``to_parquet`` and ``push_to_hub``: a chunk of rows that declare no tools
    (``tools`` null) made them fail. The visitor reads the features from the schema's metadata, which the storage view
    keeps, and looks only for media features, so it finds the same things."""
    from .arrow_storage import storage_table

    _original("table_visitor")(storage_table(table), function)


def install() -> None:
    """Make the ``datasets`` modules already imported use exact JSON (idempotent)."""
    for module_name in _MODULE_NAMES:
        module = sys.modules.get(module_name)
        if module is not None:
            _patch(module)


def install_on_import() -> None:
    """:func:`install` now, and again for each of ``_MODULE_NAMES`` as soon as it is imported (idempotent)."""
    if not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
    install()


def is_installed() -> bool:
    """Whether every imported module of ``_MODULE_NAMES`` uses exact JSON."""
    replacements = _replacements()
    return all(getattr(sys.modules[name], attr) is replacements[attr]
               for name, attrs in _MODULE_NAMES.items() if name in sys.modules for attr in attrs)


# -- internals ---------------------------------------------------------------------------------------------------
def _replacements() -> dict[str, Callable[..., Any]]:
    return {"ujson_dumps": exact_dumps, "ujson_loads": exact_loads, "table_visitor": visit_storage}


def _patch(module: Any) -> None:
    replacements = _replacements()
    for attr in _MODULE_NAMES[module.__name__]:
        current = getattr(module, attr, None)
        if current is None or current is replacements[attr]:
            continue
        _originals.setdefault(attr, current)
        setattr(module, attr, replacements[attr])


def _original(attr: str) -> Callable[..., Any]:
    if attr not in _originals:  # importing the module that defines it patches the modules that use it
        import importlib

        _originals.setdefault(attr, getattr(importlib.import_module(_ORIGINAL_HOMES[attr]), attr))
    return _originals[attr]


def _plain_scalar(value: Any) -> Any:
    """numpy scalars by their exact value (``JSONEncoder.default``); anything else is not JSON (TypeError)."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        plain = item()
        if isinstance(plain, (bool, int, float, str)) and type(plain) is not type(value):
            return plain
    raise TypeError(f"{type(value).__name__} is not JSON")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain_scalar)


def _as_before(value: Any) -> Any:
    """``value`` with each non-JSON leaf replaced by what ``datasets`` wrote for it (NaN and infinities become
    null); JSON leaves are kept exactly."""
    if isinstance(value, dict):
        return {key: _as_before(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_before(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    try:
        return _as_before(_plain_scalar(value))
    except TypeError:
        return json.loads(_original("ujson_dumps")(value))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds the modules of ``_MODULE_NAMES`` with the other finders and patches each right after it executes."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _MODULE_NAMES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    """Runs the module with its own loader (put back in place first), then patches it."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        _patch(module)
