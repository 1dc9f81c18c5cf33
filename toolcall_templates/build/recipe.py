"""Build recipes: the list of sources of a dataset, as YAML (``dataset_scripts/recipe.yaml``) or the bundled examples.

A recipe source is a ``SourceSpec`` mapping; ``path`` may be a LLaMA-Factory data folder (one config per registered
tool dataset, named after its entry) or ``FOLDER:ENTRY`` (that entry as the source's config), and ``options`` holds
format options, merged with ``toolcall build --option CONFIG.KEY=VALUE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..resources import resource_path
from .builder import SourceSpec
from .dataset_info import split_entry

_SPEC_KEYS = {"config", "path", "format", "options", "license", "language", "revision", "split", "hub_config",
              "data_files", "description", "homepage"}
EXAMPLES_LICENSE = "apache-2.0"


def load_recipe(path: str | Path) -> tuple[str, list[SourceSpec]]:
    """``(title, sources)`` of a recipe file; relative local paths are resolved against the recipe's folder."""
    import yaml

    recipe_path = Path(path)
    try:
        document = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read recipe {str(recipe_path)!r}: {exc.strerror or exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise ValueError(f"recipe {str(recipe_path)!r} must be a mapping with a 'sources' list")
    specs = []
    for index, entry in enumerate(document["sources"]):
        specs.append(_spec(entry, recipe_path.parent, f"{recipe_path.name}: sources[{index}]"))
    return str(document.get("title", "toolcall-unified")), specs


def _spec(entry: Any, base: Path, where: str) -> SourceSpec:
    if not isinstance(entry, dict) or "config" not in entry or "path" not in entry:
        raise ValueError(f"{where} needs at least 'config' and 'path'")
    unknown = set(entry) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    values = dict(entry)
    local = base / str(values["path"])
    if not Path(str(values["path"])).is_absolute() and (local.exists() or split_entry(str(local))[1] is not None):
        values["path"] = str(local)  # a file or folder next to the recipe (FOLDER:ENTRY for a LLaMA-Factory dataset)
    return SourceSpec(**values)


def example_sources() -> list[SourceSpec]:
    """One config per bundled example file ``dataset_scripts/examples/<format>.jsonl`` (config = format name)."""
    folder = resource_path("dataset_scripts") / "examples"
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no bundled examples in {folder}")
    return [SourceSpec(config=file.stem, path=str(file), format=file.stem, license=EXAMPLES_LICENSE,
                       description=f"hand-written {file.stem} examples bundled with toolcall-templates")
            for file in files]
