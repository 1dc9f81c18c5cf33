"""Where the records of a source come from, and which format reads them.

In order: a LLaMA-Factory data folder (read through its ``dataset_info.json``, format ``sharegpt``); a format that
reads its own containers (``iter_records``: a BFCL data folder, detected without ``--format``, or ToolAlpaca; as a
Hub id, its files are downloaded, ``hub_files``); a local file or folder (every record file below it, format detected
per file); a Hub dataset id (streamed with ``datasets``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..sources import get_format
from ..sources._bfcl_files import is_bfcl_data
from ..sources._files import UNREADABLE_FILE_KEY
from .dataset_info import info_path, iter_registered, read_dataset_info, split_entry
from .hub_files import dataset_files
from .readers import RawItem, SourceError, iter_hub, iter_path, looks_like_hub_id

if TYPE_CHECKING:
    from .builder import SourceSpec


def source_format(spec: "SourceSpec") -> str | None:
    """The format of the whole source: as given, ``sharegpt`` for a LLaMA-Factory folder, ``bfcl`` for a BFCL data
    folder or question file; None means detected per file."""
    if spec.format:
        return spec.format
    base, _ = split_entry(spec.path)
    local = Path(base).expanduser()
    if info_path(local) is not None:
        return "sharegpt"
    if is_bfcl_data(local):
        return "bfcl"
    return None


def _own_container_items(module, local: Path) -> Iterator[RawItem]:
    for index, record in enumerate(module.iter_records(local)):
        if isinstance(record, dict) and UNREADABLE_FILE_KEY in record:
            yield RawItem(local.name, error=str(record[UNREADABLE_FILE_KEY]), unreadable_file=True)
        else:
            yield RawItem(f"{local.name}#{index}", record)


def local_inputs(spec: "SourceSpec") -> list[Path]:
    """The local paths a source reads (nothing for a Hub dataset id)."""
    base, _ = split_entry(spec.path)
    local = Path(base).expanduser()
    return [local] if local.exists() else []


def raw_items(spec: "SourceSpec", fmt: str | None) -> Iterator[RawItem]:
    """Every record of the source, in a stable order, as read (not normalized)."""
    base, entry = split_entry(spec.path)
    local = Path(base).expanduser()
    info = info_path(local)
    if info is not None and fmt == "sharegpt":
        yield from iter_registered(read_dataset_info(info), entry)
        return
    if entry is not None:
        raise SourceError(f"{spec.path!r} selects a LLaMA-Factory dataset, which is read as sharegpt, not {fmt}")
    module = get_format(fmt) if fmt else None
    if module is not None and hasattr(module, "iter_records"):
        if local.exists():
            yield from _own_container_items(module, local)
            return
        if looks_like_hub_id(spec.path):  # its files, joined as the format joins them (datasets cannot read them)
            with dataset_files(spec.path, revision=spec.revision, data_files=spec.data_files) as folder:
                yield from _own_container_items(module, folder)
            return
    if local.exists() or not looks_like_hub_id(spec.path):
        yield from iter_path(local)
        return
    yield from iter_hub(spec.path, name=spec.hub_config, split=spec.split, revision=spec.revision,
                        data_files=spec.data_files)
