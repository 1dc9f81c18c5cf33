"""LLaMA-Factory's own supervised encoding as a test oracle for the ``chatml-llamafactory`` template.

The oracle is what LLaMA-Factory's code does to a ShareGPT record when fine-tuning a ChatML model with
``template: qwen`` and ``tool_format: default``: ``SharegptDatasetConverter`` aligns the record, then
``get_template_and_fix_tokenizer`` and ``SupervisedDatasetProcessor.preprocess_dataset`` give ``input_ids`` and
``labels``. Nothing of LLaMA-Factory is copied here; its modules are imported and run as they are.

LLaMA-Factory pins versions this project does not use (``datasets<=4``, ``transformers`` 4.x/5.6, its own torch), so it
is installed without its dependencies: ``pip install --no-deps llamafactory==0.9.5 peft==0.18.1``. Its package
``llamafactory.data/__init__`` imports the collator and the multimodal plugin, which need ``torchaudio`` (a binary
build tied to one torch version); the text-only path never calls it. The modules used here are therefore imported
without running that ``__init__``, and ``torchaudio``, where absent, is stood in for by an empty module during the
import only. Tests that use the oracle skip, with the reason, when ``llamafactory`` or ``peft`` is not installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest

VERSION = "0.9.5"
REASON = (f"LLaMA-Factory oracle not installed: pip install --no-deps llamafactory=={VERSION} peft==0.18.1 "
          "(installed without dependencies: its pins conflict with this project's)")
TOOL_RESPONSE_JOIN = "\n</tool_response>\n<tool_response>\n"
"""How LLaMA-Factory's OpenAI converter joins consecutive tool results into one observation turn."""


@contextmanager
def _bare_package(name: str):
    """Import submodules of ``name`` without running its ``__init__`` (restored afterwards if it was absent)."""
    spec = importlib.util.find_spec(name)
    present = name in sys.modules
    if not present:
        package = types.ModuleType(name)
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = package
    try:
        yield
    finally:
        if not present:
            sys.modules.pop(name, None)


@contextmanager
def _stand_in_module(name: str):
    """An empty module ``name`` during the block, when the real one cannot be imported."""
    try:
        importlib.import_module(name)
        yield
        return
    except Exception:  # noqa: BLE001 - absent, or a binary build for another torch
        pass
    stub = types.ModuleType(name)
    stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
    sys.modules[name] = stub
    try:
        yield
    finally:
        sys.modules.pop(name, None)


@lru_cache(maxsize=1)
def _modules() -> types.SimpleNamespace:
    for package in ("llamafactory", "peft"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(REASON)
    with _bare_package("llamafactory.data"), _stand_in_module("torchaudio"):
        template = importlib.import_module("llamafactory.data.template")
        converter = importlib.import_module("llamafactory.data.converter")
        parser = importlib.import_module("llamafactory.data.parser")
        supervised = importlib.import_module("llamafactory.data.processor.supervised")
    return types.SimpleNamespace(template=template, converter=converter, parser=parser, supervised=supervised)


class Inexpressible(ValueError):
    """LLaMA-Factory drops the record or fails on it; the message says why."""


@dataclass
class Encoded:
    text: str
    input_ids: list[int]
    labels: list[int]


class LlamaFactoryQwenDefault:
    """LLaMA-Factory's encoding of ShareGPT records for ``template: qwen``, ``tool_format: default``."""

    def __init__(self, tokenizer: Any, dataset_info: dict[str, Any] | None = None):
        modules = _modules()
        self.tokenizer = tokenizer
        self.data_args = types.SimpleNamespace(
            template="qwen", tool_format="default", default_system=None, train_on_prompt=False,
            enable_thinking=True, preserve_thinking=False, mask_history=False, cutoff_len=1 << 30,
            media_dir="", dataset_dir="")
        self.template = modules.template.get_template_and_fix_tokenizer(tokenizer, self.data_args)
        attr = modules.parser.DatasetAttr("file", dataset_name="oracle")
        attr.join(dataset_info or {"formatting": "sharegpt", "columns": {"messages": "conversations",
                                                                        "tools": "tools", "system": "system"}})
        self.converter = modules.converter.SharegptDatasetConverter(attr, self.data_args)
        self.processor = modules.supervised.SupervisedDatasetProcessor(
            template=self.template, tokenizer=tokenizer, processor=None, data_args=self.data_args)

    def encode(self, record: dict[str, Any]) -> Encoded:
        """Ids, labels and decoded text of one ShareGPT record; Inexpressible when LLaMA-Factory drops it or fails."""
        aligned = self.converter(record)
        if not aligned["_prompt"]:
            raise Inexpressible("LLaMA-Factory's converter drops it (roles out of turn)")
        batch = {key: [value] for key, value in aligned.items()}
        try:
            out = self.processor.preprocess_dataset(batch)
        except Exception as exc:  # noqa: BLE001 - LLaMA-Factory's own failure is the reason
            raise Inexpressible(f"LLaMA-Factory fails: {type(exc).__name__}: {exc}") from None
        if not out["input_ids"]:
            raise Inexpressible("LLaMA-Factory's processor drops it")
        ids, labels = out["input_ids"][0], out["labels"][0]
        text = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        return Encoded(text, ids, labels)


def sharegpt_record(row: dict[str, Any]) -> dict[str, Any] | None:
    """A canonical row as LLaMA-Factory's ShareGPT format spells it (None when that format cannot hold it).

    Turns: ``human`` / ``gpt`` / ``function_call`` (a JSON list of ``{"name", "arguments"}``) / ``observation``
    (consecutive tool results joined as LLaMA-Factory's OpenAI converter joins them) and a leading ``system``
    (the record's ``system`` column). Reasoning is written with the template's thought words, text before calls with
    its tool-call words, which is how LLaMA-Factory's ``FunctionFormatter`` reads them.
    """
    messages = list(row["messages"])
    system = ""
    if messages and messages[0]["role"] == "system":
        system = messages.pop(0).get("content") or ""
    turns: list[dict[str, str]] = []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if not isinstance(content, str):
            return None
        if role == "system":
            return None
        if role == "tool":
            if turns and turns[-1]["from"] == "observation":
                turns[-1]["value"] += TOOL_RESPONSE_JOIN + content
            else:
                turns.append({"from": "observation", "value": content})
            continue
        if role == "user":
            turns.append({"from": "human", "value": content})
            continue
        reasoning = message.get("reasoning_content")
        thought = f"<think>\n{reasoning}\n</think>\n\n" if isinstance(reasoning, str) and reasoning else ""
        calls = message.get("tool_calls") or []
        if not calls:
            turns.append({"from": "gpt", "value": thought + content})
            continue
        payload = json.dumps([{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                              for c in calls], ensure_ascii=False)
        value = thought + (f"{content}<tool_call>{payload}</tool_call>" if content else payload)
        turns.append({"from": "function_call", "value": value})
    return {"conversations": turns, "system": system or "",
            "tools": json.dumps(row.get("tools") or [], ensure_ascii=False)}
