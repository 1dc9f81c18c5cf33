"""Rendering parity: our templates vs the official ones, on every shared conversation the official template can express.

Conversations: every record of every ``.json``/``.jsonl`` file under ``shared/sources`` that
``toolcall_templates.normalize`` turns into a canonical row (formats whose records must be assembled from several files
are read through their ``iter_records``), deduplicated by row id. Oracles: the official templates in
``shared/fixtures/tokenizers/<family>/tokenizer_config.json`` (GLM-4: applied to ``glm_native.to_glm_messages``) and
TRL's shipped originals. A conversation the official template cannot express (it raises, or it silently drops part of
a turn) is skipped and counted; every expressible one must match exactly, as text and as token ids.

The helpers here (``shared_rows``, ``family_cases``, ...) are reused by the mask and parser tests.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest
from jinja2.exceptions import TemplateError
from transformers.utils.chat_template_utils import render_jinja_template

from conftest import load_tokenizer, shared_path, read_records
from toolcall_templates.errors import InvalidRecord
from toolcall_templates.glm_native import row_to_glm_messages, to_glm_messages
from toolcall_templates.normalize import normalize
from toolcall_templates.sources import get_format, list_formats
from toolcall_templates.templates import get_template, render

DATE = "26 Jul 2024"
TEMPLATES = ("qwen2.5", "qwen3", "llama3.1", "llama3.2", "glm4")
FIXTURE = {"qwen2.5": "qwen2.5", "qwen3": "qwen3", "llama3.1": "llama3.1", "llama3.2": "llama3.2", "glm4": "glm4"}
TRL_ORIGINAL = {"qwen2.5": "qwen2_5.jinja", "qwen3": "qwen3.jinja", "llama3.1": "llama3_1.jinja",
                "llama3.2": "llama3_2.jinja"}
GLM_EARLIER_NAME = ("名为 ChatGLM", "名为 GLM-4")


# ---------------------------------------------------------------- shared conversations ---------------------------
def _raw_records(path: Path) -> list[Any]:
    return read_records(path)


def _normalized(records: list[Any], fmt: str | None) -> list[dict]:
    rows = []
    for record in records:
        try:
            rows.append(normalize(record, fmt))
        except (InvalidRecord, ValueError):
            continue
    return rows


def _rows_of_file(path: Path) -> list[dict]:
    """Rows of one file: its records as they are, or as a container format's ``iter_records`` yields them."""
    best = _normalized(_raw_records(path), None)
    for fmt in list_formats():
        module = get_format(fmt)
        if not hasattr(module, "iter_records"):
            continue
        try:
            records = list(module.iter_records(path))
        except (InvalidRecord, ValueError, OSError, KeyError, TypeError):
            continue
        rows = _normalized(records, fmt)
        if len(rows) > len(best):
            best = rows
    return best


@lru_cache(maxsize=1)
def shared_rows() -> tuple[dict, ...]:
    """Every canonical row the shared sources normalize to (deduplicated by id), in a stable order."""
    root = shared_path("sources")
    rows: dict[str, dict] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl") and path.name != "dataset_info.json":
            for row in _rows_of_file(path):
                row["meta"]["shared_file"] = str(path.relative_to(root))
                rows.setdefault(row["id"], row)
    return tuple(rows.values())


def tools_of(row: dict) -> list[dict] | None:
    """The row's tools as templates take them (``None`` when there are none: Llama renders ``[]`` as a tool block)."""
    return row.get("tools") or None


def render_kwargs(template: str) -> dict[str, Any]:
    return {"date_string": DATE} if template.startswith("llama") else {}


# ---------------------------------------------------------------- oracles ----------------------------------------
@lru_cache(maxsize=None)
def official_source(template: str) -> str:
    config = shared_path("fixtures", "tokenizers", FIXTURE[template], "tokenizer_config.json")
    return json.loads(config.read_text(encoding="utf-8"))["chat_template"]


def render_source(source: str, messages: list[dict], tools: list[dict] | None, **kwargs: Any) -> str:
    texts, _ = render_jinja_template(conversations=[messages], tools=tools, chat_template=source, **kwargs)
    return texts[0]


def inexpressible_reason(template: str, row: dict) -> str | None:
    """Why the official template cannot express the row without raising or dropping text (None when it can)."""
    if template.startswith("llama"):
        for message in row["messages"]:
            calls = message.get("tool_calls") or []
            if len(calls) > 1:
                return "parallel calls (the official template raises)"
            if calls and message.get("content", "").strip():
                return "text and a call in one turn (the official template drops the text)"
    return None


def official_render(template: str, row: dict, **kwargs: Any) -> str:
    """The official template's text for a canonical row (GLM-4: of its native form)."""
    if template == "glm4":
        return render_source(official_source(template), row_to_glm_messages(row), None, **kwargs)
    special = {"bos_token": "<|begin_of_text|>"} if template.startswith("llama") else {}
    return render_source(official_source(template), row["messages"], tools_of(row),
                         **special, **render_kwargs(template), **kwargs)


@dataclass
class Case:
    row: dict
    skip_reason: str | None
    official: str | None
    ours: str | None
    spans: list[tuple[int, int]]


@lru_cache(maxsize=None)
def family_cases(template: str) -> tuple[Case, ...]:
    """Official and our rendering of every shared row (ours only where the official one can express it)."""
    cases = []
    for row in shared_rows():
        reason = inexpressible_reason(template, row)
        official = None
        if reason is None:
            try:
                official = official_render(template, row)
            except TemplateError as exc:
                reason = f"the official template raises: {exc}"
        ours, spans = (None, [])
        if reason is None:
            ours, spans = render(template, row["messages"], tools_of(row), **render_kwargs(template))
        cases.append(Case(row, reason, official, ours, spans))
    return tuple(cases)


@dataclass
class Encodings:
    cases: tuple[Case, ...]
    """The expressible cases, in the order of the encodings below."""
    ours: Any
    """BatchEncoding of our texts (``char_to_token`` works on it)."""
    official_ids: list[list[int]]
    """Ids of the official texts. Identical strings tokenize identically, so a text equal to ours shares its ids;
    ``test_ids_equal_official_apply_chat_template`` checks both templates' own apply_chat_template paths."""


@lru_cache(maxsize=None)
def family_encodings(template: str) -> Encodings:
    """Both renderings of every expressible shared row, tokenized by the family's real tokenizer (batched, cached)."""
    tokenizer = load_tokenizer(FIXTURE[template])
    cases = tuple(c for c in family_cases(template) if c.skip_reason is None)
    ours = tokenizer([c.ours for c in cases], add_special_tokens=False)
    differing = [i for i, c in enumerate(cases) if c.official != c.ours]
    official = list(ours["input_ids"])
    if differing:
        texts = [cases[i].official for i in differing]
        for i, ids in zip(differing, tokenizer(texts, add_special_tokens=False)["input_ids"]):
            official[i] = ids
    return Encodings(cases, ours, official)


def _report(line: str, capsys: pytest.CaptureFixture) -> None:
    with capsys.disabled():
        print(f"\n[parity] {line}", end="")


# ---------------------------------------------------------------- parity tests -----------------------------------
def test_shared_conversations_cover_the_real_sources():
    rows = shared_rows()
    files = {row["meta"]["shared_file"] for row in rows}
    glaive_demo = [r for r in rows if r["meta"]["shared_file"].startswith("llamafactory_sharegpt_tools/")]
    assert len(glaive_demo) >= 400, "the LLaMA-Factory glaive demo files must normalize"
    assert any("\u4e00" <= ch <= "\u9fff" for r in glaive_demo for m in r["messages"] for ch in m["content"])
    assert len(files) >= 3 and len(rows) >= 450


@pytest.mark.parametrize("template", TEMPLATES)
def test_text_and_ids_equal_the_official_template(template, capsys):
    cases = family_cases(template)
    encodings = family_encodings(template)
    expressible = encodings.cases
    text_equal = [c for c in expressible if c.ours == c.official]
    ids_equal = sum(a == b for a, b in zip(encodings.ours["input_ids"], encodings.official_ids))
    skipped: dict[str, int] = {}
    for case in cases:
        if case.skip_reason:
            key = case.skip_reason.split(":")[0]
            skipped[key] = skipped.get(key, 0) + 1
    _report(f"{template}: text {len(text_equal)}/{len(expressible)}, ids {ids_equal}/{len(expressible)}, "
            f"skipped {len(cases) - len(expressible)} {skipped or ''}", capsys)
    first_bad = next((c for c in expressible if c.ours != c.official), None)
    assert first_bad is None, (first_bad.row["meta"]["shared_file"],
                               _first_difference(first_bad.ours, first_bad.official))
    assert ids_equal == len(expressible) > 0


@pytest.mark.parametrize("template", TEMPLATES)
def test_ids_equal_official_apply_chat_template(template):
    """Token ids through each template's own ``apply_chat_template(tokenize=True)`` path (every 10th conversation)."""
    tokenizer = load_tokenizer(FIXTURE[template])
    ours_source = get_template(template).source
    sample = [c for c in family_cases(template) if c.skip_reason is None][::10]
    for case in sample:
        messages, tools = case.row["messages"], tools_of(case.row)
        ours = tokenizer.apply_chat_template(messages, tools=tools, chat_template=ours_source, tokenize=True,
                                             return_dict=True, **render_kwargs(template))["input_ids"]
        if template == "glm4":
            messages, tools = row_to_glm_messages(case.row), None
        official = tokenizer.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True,
                                                 **render_kwargs(template))["input_ids"]
        assert ours == official, case.row["meta"]["shared_file"]
    assert len(sample) > 50


@pytest.mark.parametrize("template", sorted(TRL_ORIGINAL))
def test_text_equals_trl_shipped_original(template, capsys):
    import trl

    source = (Path(trl.__file__).parent / "chat_templates" / TRL_ORIGINAL[template]).read_text(encoding="utf-8")
    special = {"bos_token": "<|begin_of_text|>"} if template.startswith("llama") else {}
    expressible = [c for c in family_cases(template) if c.skip_reason is None]
    equal = sum(render_source(source, c.row["messages"], tools_of(c.row), **special, **render_kwargs(template))
                == c.ours for c in expressible)
    _report(f"{template} vs trl/chat_templates/{TRL_ORIGINAL[template]}: {equal}/{len(expressible)}", capsys)
    assert equal == len(expressible) > 0


def test_glm4_accepts_the_native_form_as_is():
    for case in family_cases("glm4"):
        native = row_to_glm_messages(case.row)
        assert render("glm4", native)[0] == case.official


@pytest.mark.parametrize("variant", ["glm4-legacy", "glm4"])
def test_glm4_earlier_system_line(variant, capsys):
    """The earlier official revision differs only in its system line; glm4-legacy (or assistant_name) selects it."""
    current = official_source("glm4")
    assert current.count(GLM_EARLIER_NAME[0]) == 1
    earlier = current.replace(*GLM_EARLIER_NAME)
    kwargs = {"assistant_name": "GLM-4"} if variant == "glm4" else {}
    cases = [c for c in family_cases("glm4") if c.row["tools"]]
    equal = sum(render(variant, c.row["messages"], tools_of(c.row), **kwargs)[0]
                == render_source(earlier, row_to_glm_messages(c.row), None) for c in cases)
    _report(f"{variant}{' assistant_name=GLM-4' if kwargs else ''} vs earlier revision: {equal}/{len(cases)}", capsys)
    assert equal == len(cases) > 0


def test_glm4_legacy_file_differs_from_glm4_only_in_its_default_name():
    """glm4-legacy.jinja is self-contained (it works when installed on a tokenizer) but must not drift from glm4."""
    def body(name: str) -> list[str]:
        source = get_template(name).source
        return source[source.index("-#}") + 3:].splitlines()  # after the leading description comment

    current, legacy = body("glm4"), body("glm4-legacy")
    changed = [(a, b) for a, b in zip(current, legacy) if a != b]
    assert len(current) == len(legacy)
    assert changed == [(
        "{%- set system_name = assistant_name if assistant_name is defined else 'ChatGLM' %}",
        "{%- set system_name = assistant_name if assistant_name is defined else 'GLM-4' %}",
    )]


# ---------------------------------------------------------------- input spellings ---------------------------------
def _string_spelled(row: dict, **dumps_kwargs: Any) -> dict:
    """The row with every call's arguments and every tool's parameters given as JSON text."""
    row = copy.deepcopy(row)
    for message in row["messages"]:
        for call in message.get("tool_calls", []):
            call["function"]["arguments"] = json.dumps(call["function"]["arguments"], **dumps_kwargs)
    for tool in row["tools"] or []:
        tool["function"]["parameters"] = json.dumps(tool["function"]["parameters"], **dumps_kwargs)
    return row


SPELLINGS: dict[str, Callable[[dict], dict]] = {
    "compact-json-strings": lambda row: _string_spelled(row, separators=(",", ":")),
    "ascii-escaped-json-strings": lambda row: _string_spelled(row),
    "pretty-json-strings": lambda row: _string_spelled(row, indent=2, ensure_ascii=False),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("template", TEMPLATES)
def test_json_string_arguments_and_parameters_render_as_their_mapping_form(template, spelling):
    """Our template renders JSON-text arguments/parameters exactly as the official one renders the mapping form."""
    expressible = [c for c in family_cases(template) if c.skip_reason is None and c.row["tools"]]
    sample = expressible[::40]
    assert len(sample) >= 20
    for case in sample:
        row = SPELLINGS[spelling](case.row)
        assert render(template, row["messages"], tools_of(row), **render_kwargs(template))[0] == case.official


@pytest.mark.parametrize("template", TEMPLATES)
def test_null_content_with_tool_calls(template):
    """``content: None`` next to tool calls renders as the official template renders ``content: ""``."""
    cases = [c for c in family_cases(template) if c.skip_reason is None
             and any(m.get("tool_calls") and not m["content"] for m in c.row["messages"])][:50]
    assert cases
    for case in cases:
        messages = [({**m, "content": None} if m.get("tool_calls") and not m["content"] else m)
                    for m in case.row["messages"]]
        assert render(template, messages, tools_of(case.row), **render_kwargs(template))[0] == case.official


@pytest.mark.parametrize("template", TEMPLATES)
def test_generation_prompt_matches_official(template):
    row = next(c.row for c in family_cases(template)
               if c.skip_reason is None and c.row["messages"][-1]["role"] == "assistant")
    messages = row["messages"][:-1]
    ours = render(template, messages, tools_of(row), add_generation_prompt=True, **render_kwargs(template))[0]
    prompt_row = {**row, "messages": messages}
    assert ours == official_render(template, prompt_row, add_generation_prompt=True)


def test_flat_tool_calls_and_bare_tools_are_accepted():
    """Calls without the ``function`` wrapper and bare tool specs render like their wrapped forms."""
    tools = [{"type": "function", "function": {"name": "add", "description": "Add.", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]
    call = {"name": "add", "arguments": {"a": 1}}
    wrapped = [{"role": "user", "content": "1+?"},
               {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": call}]},
               {"role": "tool", "content": "2"}]
    flat = [wrapped[0], {"role": "assistant", "content": "", "tool_calls": [call]}, wrapped[2]]
    for template in TEMPLATES:
        kwargs = render_kwargs(template)
        assert render(template, flat, tools, **kwargs)[0] == render(template, wrapped, tools, **kwargs)[0]
    glm_bare = render("glm4", wrapped, [tools[0]["function"]])[0]
    assert glm_bare == render("glm4", wrapped, tools)[0]
    assert glm_bare == render_source(official_source("glm4"), to_glm_messages(wrapped, tools), None)


def _first_difference(ours: str | None, official: str | None) -> str:
    ours, official = ours or "", official or ""
    index = next((i for i, (a, b) in enumerate(zip(ours, official)) if a != b), min(len(ours), len(official)))
    return f"at {index}: official {official[index - 60:index + 60]!r} / ours {ours[index - 60:index + 60]!r}"



# ---------------------------------------------------------------- random conversations ----------------------------
FUZZ_TEXTS = ("", "hi", " padded \n", "\nleading newline", "中文内容", "a</think>b", "<think>x</think>y", "{{ 7*7 }}",
              "line1\nline2")
FUZZ_TOOLS = [
    {"type": "function", "function": {"name": "f", "description": "F.", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "g", "description": "G 中", "parameters": {
        "type": "object", "properties": {}}}},
]
FUZZ_ARGUMENTS = ({}, {"a": 1}, {"a": "二", "b": [1, {"c": None}], "d": 1.5})


def random_conversation(rng, texts: tuple[str, ...] = FUZZ_TEXTS) -> tuple[list[dict], list[dict] | None]:
    """Messages in any order and shape the canonical schema allows (empty turns, runs of one role, parallel calls)."""
    messages = []
    for _ in range(rng.randint(1, 7)):
        role = rng.choice(["system", "user", "user", "assistant", "assistant", "tool"])
        message = {"role": role, "content": rng.choice(texts)}
        if role == "assistant" and rng.random() < 0.5:
            message["tool_calls"] = [
                {"type": "function", "function": {"name": rng.choice("fg"), "arguments": rng.choice(FUZZ_ARGUMENTS)}}
                for _ in range(rng.choice([1, 1, 2]))]
        if role == "assistant" and rng.random() < 0.3:
            message["reasoning_content"] = rng.choice(texts)
        messages.append(message)
    return messages, rng.choice([None, FUZZ_TOOLS, FUZZ_TOOLS[:1]])


@pytest.mark.parametrize("template", TEMPLATES)
def test_random_conversations_match_the_official_template(template):
    """Beyond the shared data: unusual orders and shapes (seeded), wherever the official template accepts them."""
    import random

    rng, compared = random.Random(template), 0
    for _ in range(600):
        messages, tools = random_conversation(rng)
        row = {"messages": messages, "tools": tools or []}
        if inexpressible_reason(template, row):
            continue
        try:
            expected = official_render(template, row)
        except (TemplateError, TypeError):
            continue
        assert render(template, messages, tools, **render_kwargs(template))[0] == expected, messages
        compared += 1
    assert compared > 250
