"""Load a built (or published) canonical dataset as a plain ``datasets.Dataset`` with exact JSON values.

``datasets`` on its own decodes ``Json()`` values with pandas' fast float parser (``0.3`` comes back as
``0.30000000000000004``); with ``toolcall_templates`` imported, its JSON is read and written exactly on every path
(:mod:`toolcall_templates.exact_json`). ``load_unified`` is ``load_dataset`` with the canonical features: no
transform, so ``map``, ``select``, ``save_to_disk`` and every trainer (TRL ``SFTTrainer`` included) take it as is.
"""

from __future__ import annotations

from typing import Any


def load_unified(path: str, config: str | None = None, *, split: str = "train", **kwargs: Any):
    """``datasets.load_dataset(path, config, split=split, features=features())`` for a built (or published)
    canonical dataset: ``messages``, ``meta`` and tool ``parameters`` decode to exactly the values written."""
    from datasets import load_dataset

    from .schema import features

    kwargs.setdefault("features", features())
    return load_dataset(path, config, split=split, **kwargs)
