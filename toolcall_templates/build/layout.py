"""Which shard files of a built folder make up a config's split, as ``load_dataset(folder, config, split=...)`` reads
them: from the card's YAML ``configs`` (the single statement of the layout), not from a glob of ``data/``.

A glob of ``data/*/*.parquet`` would also take the ``test`` shards, the eval configs and the weighted mix under
``data/default/`` (whose rows are copies of the per-source rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def card_configs(folder: Path) -> dict[str, dict[str, list[str]]]:
    """``{config: {split: [relative shard paths]}}`` of the folder's card (``README.md``); ``default`` is the config
    marked ``default: true``. ValueError when the folder has no card with configs."""
    import yaml

    try:
        text = (Path(folder) / "README.md").read_text(encoding="utf-8")
        header = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else None
    except (OSError, IndexError, yaml.YAMLError) as exc:
        raise ValueError(f"{folder} has no readable dataset card (README.md): {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("configs"), list):
        raise ValueError(f"the card of {folder} lists no configs")
    configs: dict[str, dict[str, list[str]]] = {}
    for entry in header["configs"]:
        name = "default" if entry.get("default") else entry["config_name"]
        configs[name] = {item["split"]: _paths(item["path"]) for item in entry.get("data_files", [])}
    return configs


def split_files(folder: Path, config: str | None = None, split: str = "train") -> list[Path]:
    """The shards of ``split`` of ``config`` (the default config when None). ValueError naming what exists."""
    configs = card_configs(folder)
    name = config or "default"
    if name not in configs:
        raise ValueError(f"{folder} has no config {name!r}; configs: {', '.join(configs)}")
    if split not in configs[name]:
        raise ValueError(f"config {name!r} of {folder} has no split {split!r}; splits: {', '.join(configs[name])}")
    return [Path(folder) / path for path in configs[name][split]]


def _paths(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
