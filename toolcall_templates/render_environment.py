"""The shipped templates rendered outside Jinja's sandbox, byte-identical to transformers' renderer.

transformers renders a chat template in an ``ImmutableSandboxedEnvironment`` because a template from the Hub is
untrusted code: every attribute access and call it makes is checked. The templates in ``jinja/`` are this package's
own code, so for them the checks protect nothing, and they cost 40-50% of the render time on the tokenization path.
Here a shipped template is compiled in a plain ``Environment`` configured the way transformers configures its own:
``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, the ``{% generation %}`` tracker, and the same ``tojson``,
``raise_exception``, ``strftime_now``, ``dict``, ``namespace`` and the sandbox's bounded ``range``. Data stays data: Jinja never evaluates a value as
template code. Template text that is not one of the shipped files is refused here (``templates.render_plain`` sends
it through transformers).

``tests/test_render_environment.py`` proves the text and the generation spans equal transformers' on every shared
conversation, for every shipped template.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import safe_range

_STATE = "_toolcall_generation_state"
"""Render variable carrying the per-render span recorder (one per call, so renders may run concurrently)."""
_INDENTED_JSON_CHARS = 16_000_000
"""Characters of indented ``tojson`` output (and its keys) remembered, oldest forgotten first: Python's indenting
encoder is slow, and tool definitions recur across rows."""


class _Recorder:
    """Blocks yielded so far and the generation spans seen; the running length is updated lazily."""

    __slots__ = ("blocks", "counted", "length", "spans")

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.counted = 0
        self.length = 0
        self.spans: list[tuple[int, int]] = []

    def position(self) -> int:
        """Characters rendered so far (the blocks already yielded)."""
        blocks = self.blocks
        for index in range(self.counted, len(blocks)):
            self.length += len(blocks[index])
        self.counted = len(blocks)
        return self.length


class GenerationTracker(jinja2.ext.Extension):
    """``{% generation %}…{% endgeneration %}``: renders its body and records the body's character span, where
    transformers' ``AssistantTracker`` records it (the text yielded before the block starts it)."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> nodes.CallBlock:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_generation", [nodes.ContextReference()])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    @staticmethod
    def _generation(context: jinja2.runtime.Context, caller: Any) -> str:
        text = caller()
        recorder = context.get(_STATE)
        if recorder is not None:
            start = recorder.position()
            recorder.spans.append((start, start + len(text)))
        return text


def render_compiled(
    template: jinja2.Template,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    add_generation_prompt: bool,
    kwargs: dict[str, Any],
) -> tuple[str, list[tuple[int, int]]]:
    """Render a template compiled by ``compile_shipped``: the text and the character spans of its generation
    blocks."""
    recorder = _Recorder()
    blocks = recorder.blocks
    context = {**kwargs, "messages": messages, "tools": tools, "documents": None,
               "add_generation_prompt": add_generation_prompt, _STATE: recorder}
    for block in template.generate(context):
        blocks.append(block)
    return "".join(blocks), recorder.spans


@cache
def compile_shipped(source: str) -> jinja2.Template:
    """The compiled template; ``ValueError`` for text that is not one of the shipped templates."""
    if source not in _shipped_sources():
        raise ValueError("only the templates shipped in jinja/ render outside the sandbox")
    return _environment().from_string(source)


def is_shipped_source(source: str) -> bool:
    return source in _shipped_sources()


@lru_cache(maxsize=1)
def _shipped_sources() -> frozenset[str]:
    from .templates import get_template, list_templates  # templates imports this module

    return frozenset(get_template(name).source for name in list_templates())


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTracker, jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now, dict=dict,
                               namespace=jinja2.utils.Namespace, range=safe_range)  # the sandbox's bounded range
    return environment


class _IndentedJsonMemo:
    """Indented ``tojson`` output by key, oldest forgotten first past ``_INDENTED_JSON_CHARS``; thread-safe."""

    def __init__(self) -> None:
        self._texts: OrderedDict[tuple, str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        return self._texts.get(key)

    def put(self, key: tuple, text: str) -> None:
        size = len(key[0]) + len(text)
        if size > _INDENTED_JSON_CHARS // 16:
            return
        with self._lock:
            if key in self._texts:
                return
            self._texts[key] = text
            self._chars += size
            while self._chars > _INDENTED_JSON_CHARS:
                old_key, old_text = self._texts.popitem(last=False)
                self._chars -= len(old_key[0]) + len(old_text)

    def clear(self) -> None:
        with self._lock:
            self._texts.clear()
            self._chars = 0


_indented = _IndentedJsonMemo()


def _tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    """transformers' ``tojson``. Indented output is remembered by the value's compact JSON, which fixes it: both
    encoders spell every value the same way, so equal compact texts mean equal indented texts."""
    if indent is None:
        return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    key = (compact, ensure_ascii, indent, None if separators is None else tuple(separators), sort_keys)
    text = _indented.get(key)
    if text is None:
        text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
        _indented.put(key, text)
    return text


def clear_memos() -> None:
    """Forget remembered ``tojson`` output (benchmarks start each run cold)."""
    _indented.clear()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)
