"""Load a built dataset with its JSON values decoded exactly.

``datasets`` decodes ``Json()`` values with pandas' fast float parser, which is not exact: an argument written as
``0.3`` comes back as ``0.30000000000000004`` and a chat template then renders those digits into the training
text. ``load_unified`` reads the same files with ``load_dataset`` but keeps the stored JSON text and decodes it with
``json.loads`` on access, which returns exactly the values that were written.
"""

from __future__ import annotations

import json
from typing import Any


def raw_json_features(features: Any) -> Any:
    """The same features with every ``Json()`` replaced by ``Json(decode=False)`` (values stay JSON text)."""
    from datasets import Features, Json, LargeList, List

    def raw(feature: Any) -> Any:
        if isinstance(feature, Json):
            return Json(decode=False)
        if isinstance(feature, List):
            return List(raw(feature.feature), length=feature.length)
        if isinstance(feature, LargeList):
            return LargeList(raw(feature.feature))
        if isinstance(feature, dict):
            return {key: raw(value) for key, value in feature.items()}
        return feature

    return Features({name: raw(feature) for name, feature in features.items()})


def _decode_batch(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    out = dict(batch)
    if "messages" in batch:
        out["messages"] = [None if ms is None else [json.loads(m) for m in ms] for ms in batch["messages"]]
    if "meta" in batch:
        out["meta"] = [None if m is None else json.loads(m) for m in batch["meta"]]
    if "tools" in batch:
        out["tools"] = [None if tools is None else [_decode_tool(t) for t in tools] for tools in batch["tools"]]
    return out


def _decode_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = dict(tool["function"])
    if isinstance(function.get("parameters"), str):
        function["parameters"] = json.loads(function["parameters"])
    return {**tool, "function": function}


def load_unified(path: str, config: str | None = None, *, split: str = "train", **kwargs: Any):
    """``datasets.load_dataset(path, config, split=split)`` for a built (or published) canonical dataset, with
    ``messages``, ``meta`` and tool ``parameters`` decoded exactly (see the module docstring)."""
    from datasets import load_dataset

    from .schema import features

    dataset = load_dataset(path, config, split=split, features=raw_json_features(features()), **kwargs)
    dataset.set_transform(_decode_batch)
    return dataset
