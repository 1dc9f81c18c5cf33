"""Arrow types and tables seen as their storage: every extension type (``datasets``' ``Json()`` is pyarrow's
``arrow.json`` extension over a string) replaced by its storage type, at any depth of lists and structs."""

from __future__ import annotations

from typing import Any


def storage_type(arrow_type: Any) -> Any:
    """The same type with every extension type replaced by its storage type."""
    import pyarrow as pa

    if isinstance(arrow_type, pa.BaseExtensionType):
        return storage_type(arrow_type.storage_type)
    if pa.types.is_list(arrow_type):
        return pa.list_(pa.field(arrow_type.value_field.name, storage_type(arrow_type.value_type)))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(pa.field(arrow_type.value_field.name, storage_type(arrow_type.value_type)))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, storage_type(f.type), f.nullable) for f in arrow_type])
    return arrow_type


def storage_schema(schema: Any) -> Any:
    """The schema with every field's type as :func:`storage_type`; its metadata (``datasets``' features) kept."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, storage_type(f.type), f.nullable) for f in schema], metadata=schema.metadata)


def storage_table(table: Any) -> Any:
    """``table`` cast to :func:`storage_schema` (the table itself when it holds no extension type)."""
    schema = storage_schema(table.schema)
    return table if schema.equals(table.schema) else table.cast(schema)
