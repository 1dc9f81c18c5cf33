"""Build recipes: the sources of a dataset and its build settings, as YAML (``dataset_scripts/recipe.yaml``), or the
bundled examples.

A recipe source is a ``SourceSpec`` mapping; ``path`` may be a LLaMA-Factory data folder (one config per registered
tool dataset, named after its entry) or ``FOLDER:ENTRY`` (that entry as the source's config), ``options`` holds
format options, merged with ``toolcall build --option CONFIG.KEY=VALUE``, and ``max_rows``, ``weight`` and ``eval``
place it in the mix. The top-level ``decontamination``, ``near_duplicates``, ``test_fraction`` and ``plots`` keys are
the ``BuildSettings`` (``settings.from_recipe``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..resources import resource_path
from .dataset_info import split_entry
from .settings import RECIPE_KEYS, BuildSettings, from_recipe
from .spec import SourceSpec

_SPEC_KEYS = {"config", "path", "format", "options", "license", "language", "revision", "split", "hub_config",
              "data_files", "description", "homepage", "max_rows", "weight", "eval"}
_TOP_KEYS = {"title", "sources", *RECIPE_KEYS}
EXAMPLES_LICENSE = "apache-2.0"


@dataclass
class Recipe:
    """A recipe file: the dataset's title, its sources and its build settings."""

    title: str
    sources: list[SourceSpec]
    settings: BuildSettings


def load_recipe(path: str | Path) -> tuple[str, list[SourceSpec]]:
    """``(title, sources)`` of a recipe file (``read_recipe`` gives its settings too)."""
    recipe = read_recipe(path)
    return recipe.title, recipe.sources


def read_recipe(path: str | Path) -> Recipe:
    """The recipe at ``path``; relative local paths (of sources and of evaluation sets) are resolved against the
    recipe's folder. ValueError names a key that is unknown or out of range."""
    import yaml

    recipe_path = Path(path)
    try:
        document = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read recipe {str(recipe_path)!r}: {exc.strerror or exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sources"), list):
        raise ValueError(f"recipe {str(recipe_path)!r} must be a mapping with a 'sources' list")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise ValueError(f"recipe {str(recipe_path)!r} has unknown keys {sorted(unknown)}; "
                         f"allowed: {sorted(_TOP_KEYS)}")
    specs = []
    for index, entry in enumerate(document["sources"]):
        specs.append(_spec(entry, recipe_path.parent, f"{recipe_path.name}: sources[{index}]"))
    settings = from_recipe(document, recipe_path.name)
    settings.decontamination.references = [_beside(ref, recipe_path.parent)
                                           for ref in settings.decontamination.references]
    if settings.plot_tokenizer and (recipe_path.parent / settings.plot_tokenizer).exists():
        settings.plot_tokenizer = str(recipe_path.parent / settings.plot_tokenizer)
    return Recipe(str(document.get("title", "toolcall-unified")), specs, settings)


def _spec(entry: Any, base: Path, where: str) -> SourceSpec:
    if not isinstance(entry, dict) or "config" not in entry or "path" not in entry:
        raise ValueError(f"{where} needs at least 'config' and 'path'")
    unknown = set(entry) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    spec = _beside(SourceSpec(**entry), base)
    try:
        spec.check_curation()
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return spec


def _beside(spec: SourceSpec, base: Path) -> SourceSpec:
    """``spec`` with a relative path that names a file or folder next to the recipe made absolute (FOLDER:ENTRY for a
    LLaMA-Factory dataset too); Hub ids and absolute paths as they are."""
    local = base / str(spec.path)
    if not Path(str(spec.path)).is_absolute() and (local.exists() or split_entry(str(local))[1] is not None):
        return dataclasses.replace(spec, path=str(local))
    return spec


def example_sources() -> list[SourceSpec]:
    """One config per bundled example file ``dataset_scripts/examples/<format>.jsonl`` (config = format name); BFCL
    is an evaluation config, as in the published recipe."""
    folder = resource_path("dataset_scripts") / "examples"
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no bundled examples in {folder}")
    return [SourceSpec(config=file.stem, path=str(file), format=file.stem, license=EXAMPLES_LICENSE,
                       description=f"hand-written {file.stem} examples bundled with toolcall-templates",
                       eval=file.stem == "bfcl")
            for file in files]
