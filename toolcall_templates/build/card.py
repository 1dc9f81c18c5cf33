"""Render the dataset card (``README.md`` with the Hub YAML header) from the shipped ``hub_card.md`` template."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..resources import resource_path
from .dataset_info import split_entry
from .mix import MIX_FOLDER
from .readers import looks_like_hub_id
from .stats import SourceStats

if TYPE_CHECKING:
    from .plots import Plot
    from .spec import SourceSpec

SPLITS = ("train", "test")


def front_matter(root: Path, sources: list["SourceSpec"], stats: list[SourceStats]) -> dict[str, Any]:
    """The card's YAML metadata: one config per source plus ``default``, licenses, languages, eval configs.

    ``default`` is the training data: the training configs' ``train`` shards (or the weighted mix under
    ``data/default/``) and their ``test`` shards; eval configs stay out of it (unless every config is one). Configs
    list their shard files by name rather than by a glob: ``datasets`` keys its cache of a local folder on this
    metadata, and the content hash in each shard name then makes a rebuilt folder load fresh.
    """
    shards = {spec.config: {split: _shards(root, spec.config, split) for split in SPLITS} for spec in sources}
    training = [spec for spec in sources if not spec.eval] or sources
    default = {split: [path for spec in training for path in shards[spec.config][split]] for split in SPLITS}
    mixed = _shards(root, MIX_FOLDER, "train")
    if mixed or any(spec.weight != 1 for spec in training if not spec.eval):
        default["train"] = mixed
    configs = [{"config_name": "default", "data_files": _data_files(default), "default": True}]
    configs += [{"config_name": spec.config, "data_files": _data_files(shards[spec.config])}
                for spec in sources if any(shards[spec.config].values())]
    licenses = sorted({spec.license for spec in sources if spec.license})
    languages = sorted({lang for stat in stats for lang in stat.languages} | {s.language for s in sources if s.language})
    total = sum(stat.rows_out for stat in stats)
    meta: dict[str, Any] = {
        "license": licenses[0] if len(licenses) == 1 else "other",
        "language": languages or ["en"],
        "task_categories": ["text-generation"],
        "tags": ["tool-calling", "function-calling", "fine-tuning", "toolcall-templates"],
        "size_categories": [_size_category(total)],
        "configs": configs,
    }
    evaluation = [spec.config for spec in sources if spec.eval]
    if evaluation:
        meta["evaluation_configs"] = evaluation
    if len(licenses) > 1:
        meta["license_name"] = "mixed"
        meta["license_details"] = "Per-config licenses: " + ", ".join(
            f"{spec.config}: {spec.license or 'see source'}" for spec in sources)
    return meta


def _shards(root: Path, folder: str, split: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "data" / folder).glob(f"{split}-*.parquet"))


def _data_files(files: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The ``data_files`` of a config: one entry per split that has shards."""
    return [{"split": split, "path": paths} for split, paths in files.items() if paths]


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M"


def describe_sources(sources: list["SourceSpec"]) -> str:
    """What the configs were built from, e.g. ``"2 sources: 1 Hub dataset (`org/name`) and 1 local file
    (`calls.jsonl`)"``; local sources are named by their file or folder name, never their full local path."""
    hub, local = [], []
    for spec in sources:
        base, entry = split_entry(spec.path)
        path = Path(base).expanduser()
        if not path.exists() and looks_like_hub_id(spec.path):
            hub.append(f"`{spec.path}`" + (f" ({spec.hub_config})" if spec.hub_config else ""))
        else:
            local.append(f"`{path.name}`" + (f" (LLaMA-Factory dataset `{entry}`)" if entry else ""))
    parts = []
    if hub:
        parts.append(f"{len(hub)} Hub dataset{'s' if len(hub) != 1 else ''} ({', '.join(sorted(set(hub)))})")
    if local:
        parts.append(f"{len(local)} local file{'s' if len(local) != 1 else ''} or folder{'s' if len(local) != 1 else ''}"
                     f" ({', '.join(sorted(set(local)))})")
    count = len(sources)
    return f"{count} source{'s' if count != 1 else ''}: " + " and ".join(parts)


def bfcl_training(stats: list[SourceStats]) -> list[str]:
    """The configs that hold BFCL (evaluation) rows and are not marked ``eval``."""
    return [s.config for s in stats if not s.eval and s.formats.get("bfcl")]


def card_for_repo(text: str, repo_id: str) -> str:
    """The card text with the dataset id of its ``load_dataset(...)`` examples set to ``repo_id``."""
    return re.sub(r'load_dataset\("[^"]*"', lambda _: f'load_dataset("{repo_id}"', text)


def write_card(root: Path, sources: list["SourceSpec"], stats: list[SourceStats], *, title: str,
               repo_id: str | None = None, report: dict[str, Any] | None = None,
               plots: list["Plot"] = ()) -> Path:
    """Write ``root/README.md``; without ``repo_id`` the examples name ``ORG/<title>`` until ``toolcall push``.
    ``report`` (the build report) adds the split, mix, decontamination and near-duplicate sections."""
    import jinja2
    import yaml

    report = report or {}
    template = jinja2.Environment(keep_trailing_newline=True, autoescape=False).from_string(
        resource_path("hub_card.md").read_text(encoding="utf-8"))
    totals = SimpleNamespace(**{key: sum(getattr(s, key) for s in stats) for key in
                                ("rows_out", "turns", "tool_calls", "rejected", "duplicates", "rows_with_warnings",
                                 "contaminated", "near_duplicates_found", "near_duplicates_removed", "capped",
                                 "rows_train", "rows_test", "instructions_removed")})
    text = template.render(
        front_matter=yaml.safe_dump(front_matter(root, sources, stats), sort_keys=False, allow_unicode=True),
        title=title,
        repo_hint=repo_id or f"ORG/{title}",
        origin=describe_sources(sources),
        example_config=next((s.config for s in stats if s.rows_train), sources[0].config),
        sources=sources,
        stats=stats,
        totals=totals,
        unreadable=[dict(u, config=s.config) for s in stats for u in s.unreadable_files],
        licenses={spec.config: spec.license for spec in sources},
        eval_configs=[spec.config for spec in sources if spec.eval],
        bfcl_training=bfcl_training(stats),
        has_test=any(s.rows_test for s in stats if not s.eval),
        test_fraction=(report.get("split") or {}).get("test_fraction", 0),
        mix=report.get("mix"),
        capped={spec.config: spec.max_rows for spec in sources if spec.max_rows is not None},
        decontamination=report.get("decontamination"),
        near_duplicates=report.get("near_duplicates"),
        plots=list(plots),
        plot_note=(report.get("plots") or {}).get("note"),
    )
    path = root / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
