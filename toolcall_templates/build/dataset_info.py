"""LLaMA-Factory data folders: the datasets a ``dataset_info.json`` registers, read the way LLaMA-Factory reads them.

A source path that is a folder holding ``dataset_info.json`` (or the ``dataset_info.json`` file itself) is read
through it: only the files it registers are read, each with its entry's ``columns`` and ``tags`` (ShareGPT options).
An entry is read when it uses ``formatting: sharegpt``, names a local ``file_name`` (a file or a folder of files),
needs no media or preference columns, and declares tool data (a ``tools`` column, or a ``function_tag`` /
``observation_tag``). ``PATH:ENTRY`` selects one registered entry by name, tool data declared or not.

``expand_sources`` turns such a source into one config per registered tool dataset, named after its entry.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .readers import RECORD_SUFFIXES, RawItem, SourceError, iter_file

if TYPE_CHECKING:
    from .builder import SourceSpec

INFO_NAME = "dataset_info.json"
_TOOL_TAGS = ("function_tag", "observation_tag")


@dataclass(frozen=True)
class RegisteredDataset:
    """One usable entry of a ``dataset_info.json``: its files and ShareGPT options."""

    name: str
    files: tuple[Path, ...]
    options: dict[str, Any]


@dataclass
class DatasetInfo:
    """What a ``dataset_info.json`` registers: the datasets with tool data, and why every other entry is skipped."""

    path: Path
    datasets: dict[str, RegisteredDataset] = field(default_factory=dict)
    selectable: dict[str, RegisteredDataset] = field(default_factory=dict)
    """Every readable sharegpt entry, tool data declared or not (what ``PATH:ENTRY`` may name)."""
    skipped: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Entry name -> ``(kind, reason)`` for every entry that is not a dataset with tool data."""

    def select(self, entry: str | None) -> list[RegisteredDataset]:
        """The datasets with tool data, or the one entry named; ``SourceError`` with the reason otherwise."""
        if entry is None:
            if not self.datasets:
                raise SourceError(f"{str(self.path)!r} registers no dataset with tool data ({self.skipped_summary()})")
            return list(self.datasets.values())
        if entry in self.selectable:
            return [self.selectable[entry]]
        if entry in self.skipped:
            raise SourceError(f"entry {entry!r} of {str(self.path)!r} cannot be read: {self.skipped[entry][1]}")
        raise SourceError(f"{str(self.path)!r} defines no entry {entry!r} (entries with tool data: "
                          f"{', '.join(self.datasets) or 'none'})")

    def skipped_summary(self) -> str:
        """``"98 other entries skipped (80 Hub-only, ...)"``."""
        if not self.skipped:
            return "no other entries"
        kinds = Counter(kind for kind, _ in self.skipped.values())
        return (f"{len(self.skipped)} other entries skipped ("
                + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()) + ")")


def info_path(path: str | Path) -> Path | None:
    """The ``dataset_info.json`` of a LLaMA-Factory data folder (or the path itself when it is one), else None."""
    candidate = Path(path).expanduser()
    if candidate.is_file() and candidate.name == INFO_NAME:
        return candidate
    if candidate.is_dir() and (candidate / INFO_NAME).is_file():
        return candidate / INFO_NAME
    return None


def split_entry(path: str) -> tuple[str, str | None]:
    """``"folder:ENTRY"`` -> ``("folder", "ENTRY")`` when ``folder`` is a LLaMA-Factory data folder (and the whole
    text is not an existing path); otherwise ``(path, None)``."""
    if Path(path).expanduser().exists() or ":" not in path:
        return path, None
    base, _, entry = path.rpartition(":")
    return (base, entry) if entry and info_path(base) is not None else (path, None)


def read_dataset_info(path: Path) -> DatasetInfo:
    """Parse ``dataset_info.json`` and sort its entries into readable datasets and skipped ones (with reasons)."""
    from ..sources.sharegpt import dataset_info_options

    try:
        info = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"cannot read {str(path)!r}: {exc}") from exc
    if not isinstance(info, dict):
        raise SourceError(f"{str(path)!r} is not a JSON object of dataset entries")
    result = DatasetInfo(path)
    for name, entry in info.items():
        skip = _skip_reason(info, name, path.parent)
        if skip is not None:
            result.skipped[name] = skip
            continue
        dataset = RegisteredDataset(name, _entry_files(path.parent / entry["file_name"]),
                                    dataset_info_options(info, name))
        result.selectable[name] = dataset
        if dataset.options["columns"].get("tools") or any(dataset.options["tags"].get(tag) for tag in _TOOL_TAGS):
            result.datasets[name] = dataset
        else:
            result.skipped[name] = ("without tool data", "no tool data declared (no 'tools' column, function_tag or "
                                    "observation_tag); select it as PATH:ENTRY to read it anyway")
    return result


def _skip_reason(info: dict, name: str, folder: Path) -> tuple[str, str] | None:
    """``(kind, reason)`` when entry ``name`` cannot be read as a local ShareGPT dataset, else None."""
    from ..sources.sharegpt import dataset_info_options

    entry = info[name]
    if not isinstance(entry, dict):
        return "malformed", "the entry is not an object"
    if entry.get("formatting", "alpaca") != "sharegpt":
        return "not sharegpt", f"formatting {entry.get('formatting', 'alpaca')!r}, not 'sharegpt'"
    file_name = entry.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        return "Hub-only", "no local file_name (a Hub or remote dataset)"
    if "/" in name or name.startswith(".") or name == "default":
        return "malformed", f"{name!r} cannot be a config name"
    try:
        dataset_info_options(info, name)
    except ValueError as exc:
        return "unsupported columns", str(exc)
    path = folder / file_name
    if not path.exists():
        return "file absent", f"{file_name!r} is not in {str(folder)!r}"
    if path.is_file() and path.suffix not in RECORD_SUFFIXES:
        return "file type not read", f"{file_name!r} is not {', '.join(RECORD_SUFFIXES)}"
    if not _entry_files(path):
        return "file absent", f"folder {file_name!r} holds no {', '.join(RECORD_SUFFIXES)} files"
    return None


def _entry_files(path: Path) -> tuple[Path, ...]:
    """The files of a ``file_name``: the file, or the record files directly inside a folder (as LLaMA-Factory)."""
    if path.is_dir():
        return tuple(sorted(p for p in path.iterdir() if p.is_file() and p.suffix in RECORD_SUFFIXES
                            and not p.name.startswith(".")))
    return (path,)


def iter_registered(info: DatasetInfo, entry: str | None) -> Iterator[RawItem]:
    """The records of the selected datasets, each carrying its entry's options; refs name the file."""
    root = info.path.parent
    for dataset in info.select(entry):
        for file in dataset.files:
            for item in iter_file(file, label=str(file.relative_to(root))):
                item.options = dataset.options
                yield item


def expand_sources(specs: list["SourceSpec"]) -> tuple[list["SourceSpec"], list[str]]:
    """One config per registered tool dataset for every source that is a whole LLaMA-Factory data folder (format
    unset or ``sharegpt``), named after its ``dataset_info`` entry; other sources as they are. Returns the specs and
    one note per expanded source (what was read, what was skipped)."""
    out: list[SourceSpec] = []
    notes: list[str] = []
    for spec in specs:
        base, entry = split_entry(spec.path)
        path = info_path(base)
        if path is None or entry is not None or spec.format not in (None, "sharegpt"):
            out.append(spec)
            continue
        info = read_dataset_info(path)
        datasets = info.select(None)
        notes.append(f"{spec.config}: {path} registers {len(datasets)} dataset(s) with tool data, one config each: "
                     f"{', '.join(d.name for d in datasets)}; {info.skipped_summary()}")
        for dataset in datasets:
            files = ", ".join(file.name for file in dataset.files)
            out.append(dataclasses.replace(
                spec, config=dataset.name, path=f"{base}:{dataset.name}", format="sharegpt",
                description=spec.description or f"LLaMA-Factory dataset {dataset.name} ({files})"))
    return out, notes
