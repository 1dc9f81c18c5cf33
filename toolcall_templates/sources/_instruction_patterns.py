"""The tool-format instruction blocks that public prompt formats write into prompts, for ``_instructions``.

Every block is built from a published prompt text, tolerant of whitespace and line-break differences and of any tool
list in its slot; nothing else is recognized, so the author's own text around a block always stays. Per family:

* ``hermes``: NousResearch hermes-function-calling-v1 system prompts (dataset card), the Hermes 2 Pro model-card
  prompt and ``prompt_assets/sys_prompt.yml`` of NousResearch/Hermes-Function-Calling; the Qwen2.5 / Qwen3 and
  GLM-4.5 "# Tools" sections (same tags). Any sentence that spells an empty tool tag pair (``<tools></tools>``,
  ``<tool_call></tool_call>``, ...) describes the transport format and is removed with its example block.
* ``react``: the ReAct prompt (LangChain, Qwen ``examples/react_prompt.md``, ms-swift ``react_en`` / ``react_zh``,
  ms_agent / MSAgent-Bench): tool-list intro, tool list, "Use the following format:" with its keyword lines, "Begin!".
  A bare intro whose list was taken out (ChatGLM3's "Answer the following questions as best as you can. You have
  access to the following tools:") is removed when nothing but the list follows it.
* ``toolbench``: OpenBMB/ToolBench ``FORMAT_INSTRUCTIONS_SYSTEM_FUNCTION`` with its task description and tool list
  (also ms-swift's ``toolbench`` agent template), and the "Begin!" that ToolBench appends to the user turn.
* ``glaive``: the glaive-function-calling v1/v2 preamble and mistral-finetune's ``reformat_data_glaive.py`` variant.
* ``glm4``: the glm-4-9b-chat template's "# 可用工具" section (with its default persona line).
* ``qwen_agent``: the Qwen-Agent / ms-swift ``qwen_en`` / ``qwen_zh`` (and parallel) "# Tools" / "# 工具" prompt.
* ``llamafactory``: LLaMA-Factory's default tool prompt ("Use the following format if using a tool: ...").
* ``llama3``: the Llama 3.1 JSON tool-calling instructions (Meta's model card, LLaMA-Factory ``LLAMA3_TOOL_PROMPT``).

``TELLTALES`` are the strings that give a format instruction away; text still holding one after cleaning is kept and
reported as unrecognized rather than guessed at.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from ._literal import balanced_end

Finder = Callable[[str], Iterator[tuple[int, int]]]


def _words(sentence: str) -> str:
    """A regex for ``sentence`` whose words may be separated by any whitespace."""
    return r"\s+".join(re.escape(word) for word in sentence.split())


@dataclass(frozen=True)
class Block:
    """A regex for one instruction block.

    ``values_after``: the block goes on with JSON / Python values (a tool list) right after the match; they are
    taken with it. ``at_end``: the block counts only when nothing but whitespace follows it (an intro whose list
    was extracted).
    """

    pattern: re.Pattern
    values_after: bool = False
    at_end: bool = False

    def __call__(self, text: str) -> Iterator[tuple[int, int]]:
        tail = len(text.rstrip()) if self.at_end else 0
        for match in self.pattern.finditer(text):
            end = _after_values(text, match.end()) if self.values_after else match.end()
            if end >= tail:
                yield match.start(), end


def _after_values(text: str, pos: int) -> int:
    """End of the bracketed values (separated by whitespace or commas) that start at ``pos``; ``pos`` if none."""
    end = pos
    scan = pos
    while True:
        while scan < len(text) and (text[scan].isspace() or text[scan] == ","):
            scan += 1
        if scan >= len(text) or text[scan] not in "[{":
            return end
        closed = balanced_end(text, scan)
        if closed is None:
            return end
        end = scan = closed


def _block(pattern: str, flags: int = 0, **kwargs) -> Block:
    return Block(re.compile(pattern, flags), **kwargs)


# -- hermes / Qwen "# Tools" --------------------------------------------------------------------------------------
_TAGS = r"(?:tools|tool_call|tool_response|functions|function_call)"
_TAG_PAIR = re.compile(rf"<({_TAGS})>\s*</\1>")
_SENTENCE_END = re.compile(r"[\n.。!?！？:：]")
_EXAMPLE_BLOCK = re.compile(rf"\s*<({_TAGS})>[\s\S]*?</\1>")


def _tag_sentences(text: str) -> Iterator[tuple[int, int]]:
    """Sentences that spell an empty tag pair (``<tool_call></tool_call>``), from the end of the previous sentence to
    their own end; a sentence ending in a colon takes the example block after it. (Found from the pair outwards, with
    the sentence ends listed once, so the cost stays linear in the text.)"""
    ends: list[int] = []
    starts: list[int] = []
    for pair in _TAG_PAIR.finditer(text):
        if not ends:
            ends = [m.start() for m in _SENTENCE_END.finditer(text)] or [len(text)]
            starts = [end for end in ends if end < len(text) and text[end] not in ":："]
        before = bisect.bisect_left(starts, pair.start())
        start = starts[before - 1] + 1 if before else 0
        after = bisect.bisect_left(ends, pair.end())
        stop = ends[after] if after < len(ends) and ends[after] < len(text) else None
        if stop is None:
            yield start, len(text)
        elif text[stop] == "\n":
            yield start, stop
        elif text[stop] in ":：":
            example = _EXAMPLE_BLOCK.match(text, stop + 1)
            yield start, example.end() if example else stop + 1
        else:
            yield start, stop + 1


_HERMES: tuple[Block, ...] = (
    _block(_words("You are a function calling AI model.")),
    _block(_words("You are a function calling AI agent with self-recursion.")),
    _block(_words("You are provided with function signatures within") + r"\s*<tools>\s*</tools>(?:\s*XML\s+tags)?\s*[.:]?"),
    _block(_words("After calling & executing the functions, you will be provided with function results within")
           + r"\s*<tool_response>\s*</tool_response>\s*XML\s+tags\s*\.?"),
    _block(r"<(tools|functions)>[\s\S]*?</\1>"),  # a tool listing (the row declares its tools)
    _block(_words("Use the following pydantic model json schema for each tool call you will make:"), values_after=True),
    # "For each function call, return ... :" and the <tool_call> example that follows it (Hermes, Qwen, GLM-4.5)
    _block(r"For\s+each\s+(?:extraction\s+)?function\s+call\b[^\n]*\n\s*<tool_call>[\s\S]*?</tool_call>"),
    _tag_sentences,  # any sentence spelling an empty tag pair, with the example block its colon introduces
)
_HERMES_COMPANIONS: tuple[Block, ...] = (  # plain sentences an author may write too: removed only inside the block
    _block(_words("You may call one or more functions to assist with the user query.")),
    _block(_words("Don't make assumptions about what values to plug into")
           + r"\s+(?:functions|function\s+arguments|json\s+schema)\s*\."),
    _block(_words("If available tools are not relevant in assisting with user query, just respond in natural "
                  "conversational language.")),
    _block(_words("Here are the available tools:")),
    _block(r"(?m)^#[ \t]*Tools[ \t]*\n(?=\s*You\s+may\s+call\s+one\s+or\s+more\s+functions)"),
)

# -- ReAct --------------------------------------------------------------------------------------------------------
_ACCESS = r"You\s+have\s+access\s+to\s+the\s+following\s+(?:tools|APIs)\s*[:：]"
_ZH_ACCESS = r"你(?:拥有如下|可以使用以下|可以使用如下)工具\s*[:：]"
_INTRO = (  # every alternative opens with a literal, so the regex engine can skip ahead to them
    rf"(?:Answer\s+the\s+following\s+questions\s+as\s+best\s+(?:as\s+)?you\s+can\.?\s*(?:Specifically,\s+)?{_ACCESS}"
    rf"|Specifically,\s+{_ACCESS}|{_ACCESS}|尽(?:你所能|可能地?)回答以下问题[。.，,]?\s*{_ZH_ACCESS}|{_ZH_ACCESS})")
_HEADER = (r"(?:Use\s+the\s+following\s+format|Please\s+follow\s+the\s+format\s+below|请按照以下格式进行"
           r"|使用以下格式回答|请(?:严格)?使用以下格式)\s*[:：]")
_KEYWORD = (r"(?:Question|Thought|Action\s+Input|Action|Observation|Final\s+Answer"
            r"|问题|思考|行动输入|动作输入|行动|动作|观察|最终答案)")
_LINE = rf"[ \t]*(?:{_KEYWORD}[ \t]*(?:[:：][^\n]*)?|(?:\.\.\.|…)[^\n]*)"
_CLOSING = r"(?:Begin!|现在开始[！!]|开始[！!])"
_INTRO_RE = re.compile(_INTRO)
_HEADER_RE = re.compile(_HEADER)
_FORMAT_LINES = re.compile(rf"[ \t]*(?:\n+{_LINE})+(?:\s*{_CLOSING})?")
_ACTION_INPUT = re.compile(r"Action\s+Input|行动输入|动作输入")
_QUESTION = re.compile(r"\s*(?:Question|问题)\s*[:：][ \t]*")


def _react_blocks(text: str) -> Iterator[tuple[int, int]]:
    """Every "Use the following format:" header with its keyword lines (an ``Action Input`` among them) and closing
    "Begin!", or cut off right after the header, from the nearest tool-list intro before it (when there is one after
    the previous block). Found header by header, so the cost stays linear in the text."""
    intros = [(m.start(), m.end()) for m in _INTRO_RE.finditer(text)]
    tail = len(text.rstrip())
    previous = 0
    for header in _HEADER_RE.finditer(text):
        lines = _FORMAT_LINES.match(text, header.end())
        index = bisect.bisect_right(intros, (header.start(), header.start())) - 1
        intro = intros[index] if index >= 0 and intros[index][0] >= previous else None
        if lines and _ACTION_INPUT.search(text, header.end(), lines.end()):
            end = lines.end()
        elif intro is not None and header.end() >= tail:  # cut off after its format header
            end = len(text)
        else:
            continue
        start = intro[0] if intro is not None else header.start()
        previous = end
        yield start, end


def _react_user_prompt(text: str) -> Iterator[tuple[int, int]]:
    """Qwen-1 ReAct prompting: the whole prompt opens the user turn and ends with "Question:" before the query."""
    first = next(_react_blocks(text), None)
    if first is not None and not text[:first[0]].strip():
        question = _QUESTION.match(text, first[1])
        if question is not None:
            yield 0, question.end()


_REACT: tuple[Finder, ...] = (_react_blocks, _block(_INTRO, values_after=True, at_end=True))
_REACT_USER: tuple[Finder, ...] = (_react_user_prompt,)
_REACT_QUESTION: tuple[Block, ...] = (_block(r"\A\s*(?:Question|问题)\s*[:：][ \t]*(?=\S)"),)

# -- ToolBench ----------------------------------------------------------------------------------------------------
_API_DUMP = r"Specifically,\s+you\s+have\s+access\s+to\s+the\s+following\s+APIs:"
_AUTOGPT = re.compile(r"(?:You\s+are\s+AutoGPT(?:,\s+you|\s+and)|You)\s+can\s+(?:use|call)\s+many\s+tools\s*\(functions\)")
_TOOL_LIST = re.compile(rf"You\s+have\s+access\s+(?:of|to)\s+the\s+following\s+tools:[ \t]*(?:\n[ \t]*\d+\s*\.[^\n]*)*"
                        rf"(?:\s*{_API_DUMP})?|{_API_DUMP}")


def _toolbench_prompts(text: str) -> Iterator[tuple[int, int]]:
    """ToolBench's system prompt, from its AutoGPT opening to the end of its tool list (and of the API dump that
    ToolLLaMA appends). Found opening by opening, so the cost stays linear in the text."""
    lists = [(m.start(), m.end()) for m in _TOOL_LIST.finditer(text)]
    previous = 0
    for opening in _AUTOGPT.finditer(text):
        index = bisect.bisect_left(lists, (opening.end(), 0))
        if opening.start() < previous or index == len(lists):
            continue
        previous = _after_values(text, lists[index][1])
        yield opening.start(), previous


_TOOLBENCH: tuple[Finder, ...] = (
    _toolbench_prompts,
    _block(rf"{_API_DUMP}\s*(?=[\[{{])", values_after=True),  # ToolLLaMA's API dump on its own, with its list
)
def _trailing_begin(text: str) -> Iterator[tuple[int, int]]:
    """ToolBench's "\\nBegin!\\n" after the query, with the whitespace around it."""
    stripped = text.rstrip()
    if stripped.endswith("Begin!") and (len(stripped) == 6 or not stripped[-7].isalnum()):
        yield len(stripped[:-6].rstrip()), len(text)


_TOOLBENCH_USER: tuple[Finder, ...] = (_block(r"\A\s+(?=\S)"), _trailing_begin)

# -- Glaive -------------------------------------------------------------------------------------------------------
_GLAIVE: tuple[Block, ...] = (
    _block(r"You\s+are\s+an?\s+helpful\s+assistant,?\s+(?:with|who\s+has)\s+access\s+to\s+the\s+following\s+functions"
           r"(?:\s+to\s+help\s+the\s+user)?\s*[.,]?\s*(?:Use\s+them\s+if\s+required|you\s+can\s+use\s+the\s+functions"
           r"\s+if\s+needed)[ \t]*[.\-–:]?", values_after=True),
)

# -- Qwen-Agent ---------------------------------------------------------------------------------------------------
_QWEN_AGENT: tuple[Block, ...] = (
    _block(r"#[ \t]*(?:Tools|工具)[ \t]*\n\s*##[ \t]*(?:You\s+have\s+access\s+to\s+the\s+following\s+tools|你拥有如下工具)"
           r"\s*[:：][\s\S]*?✿RETURN✿\s*[:：][^\n]*"),
)

# -- LLaMA-Factory default tool prompt ----------------------------------------------------------------------------
_LLAMAFACTORY: tuple[Block, ...] = (
    _block(r"You\s+have\s+access\s+to\s+the\s+following\s+tools:\n[\s\S]*?Use\s+the\s+following\s+format\s+if\s+using"
           r"\s+a\s+tool:\s*\n```\n[\s\S]*?Action\s+Input:[^\n]*\n```"),
)

# -- Llama 3.1 JSON tool calling ----------------------------------------------------------------------------------
_LLAMA3: tuple[Block, ...] = (
    _block(_words("Given the following functions, please respond with a JSON for a function call with its proper "
                  "arguments that best answers the given prompt.")),
    _block(_words("You have access to the following functions. To call a function, please respond with JSON for a "
                  "function call.")),
    _block(r"Respond\s+in\s+the\s+format\s+\{\"name\":\s*function\s+name,\s*\"parameters\":\s*dictionary\s+of\s+"
           r"argument\s+name\s+and\s+its\s+value\}\.?\s*Do\s+not\s+use\s+variables\.", values_after=True),
)


# -- GLM-4 "# 可用工具" ---------------------------------------------------------------------------------------------
_GLM4_HEAD = re.compile(r"(?:你是一个名为\s*(?:ChatGLM|GLM-4)\s*的人工智能助手。你是基于智谱\s*AI\s*训练的语言模型\s*GLM-4\s*"
                        r"模型开发的，你的任务是针对用户的问题和要求提供适当的答复和支持。\s*)?#[ \t]*可用工具")
_GLM4_ENTRY = re.compile(r"\s*##[ \t]*[^\n]+\n\s*(?=[\[{])")
_GLM4_NEXT_ENTRY = re.compile(r"\s*##")
_GLM4_TAIL = re.compile(r"\s*在调用上述函数时，请使用\s*Json\s*格式表示调用的参数。")


def _glm4_sections(text: str) -> Iterator[tuple[int, int]]:
    """The "# 可用工具" header and every ``## name`` / JSON / usage-sentence entry after it; a section holding an
    entry that is not a function (python, simple_browser, cogview) is left alone."""
    heads = list(_GLM4_HEAD.finditer(text))
    for number, head in enumerate(heads):
        stop = heads[number + 1].start() if number + 1 < len(heads) else len(text)
        end = head.end()
        while entry := _GLM4_ENTRY.match(text, end, stop):
            value_end = balanced_end(text, entry.end(), stop)
            tail = _GLM4_TAIL.match(text, value_end, stop) if value_end is not None else None
            if tail is None:
                break
            end = tail.end()
        if not _GLM4_NEXT_ENTRY.match(text, end, stop):
            yield head.start(), end


SYSTEM_BLOCKS: dict[str, tuple[Finder, ...]] = {
    "hermes": _HERMES,
    "react": _REACT,
    "toolbench": _TOOLBENCH,
    "glaive": _GLAIVE,
    "glm4": (_glm4_sections,),
    "qwen_agent": _QWEN_AGENT,
    "llamafactory": _LLAMAFACTORY,
    "llama3": _LLAMA3,
}
"""Blocks recognized in system prompts (and in a user turn that carries the prompt), per family."""

SYSTEM_COMPANIONS: dict[str, tuple[Finder, ...]] = {"hermes": _HERMES_COMPANIONS}
"""Sentences of a family's prompt that an author may also write on their own ("Don't make assumptions about what
values to plug into functions."): removed only where they touch a recognized block of that family."""

USER_BLOCKS: dict[str, tuple[Finder, ...]] = {"react": _REACT_USER}
"""Blocks that open the first user turn (Qwen-1 ReAct prompting puts the whole prompt before ``Question:``)."""

USER_PIECES: dict[str, tuple[Finder, ...]] = {"toolbench": _TOOLBENCH_USER, "react": _REACT_QUESTION}
"""Pieces of the first user turn that belong to a family's prompt (ToolBench's "Begin!", ReAct's "Question:"),
removed only when the same family's block was removed from the row's system prompt."""

TRIGGERS: dict[str, re.Pattern] = {
    "hermes": re.compile(r"function|</?tool|Here are the available tools|Don't make assumptions|# Tools|For each"),
    "react": re.compile(r"access to the following|工具|format|格式"),
    "toolbench": re.compile(r"many tools|following APIs"),
    "glaive": re.compile(r"following functions"),
    "glm4": re.compile(r"可用工具"),
    "qwen_agent": re.compile(r"✿"),
    "llamafactory": re.compile(r"if using a tool"),
    "llama3": re.compile(r"Given the following functions|respond with JSON|Do not use variables"),
}
"""Strings every block of a family contains: a text without any is not searched for that family's blocks (a cheap
pre-check; the blocks decide)."""

TELLTALES: dict[str, re.Pattern] = {
    "hermes": re.compile(r"</?tools>|</?tool_call>|<tool_response>|function calling AI model"),
    "react": re.compile(r"Action Input\s*[:：]|行动输入|动作输入"),
    "toolbench": re.compile(r"You are AutoGPT|You have access of the following tools|give_up_and_restart"),
    "glaive": re.compile(r"access to the following functions", re.IGNORECASE),
    "glm4": re.compile(r"#\s*可用工具|在调用上述函数时"),
    "qwen_agent": re.compile(r"✿(?:FUNCTION|ARGS|RESULT|RETURN)✿"),
    "llamafactory": re.compile(r"Use the following format if using a tool|Tool Args:"),
    "llama3": re.compile(r"Respond in the format \{\"name\""),
    "tool_list": re.compile(r"access to the following (?:tools|APIs)", re.IGNORECASE),
}
"""Strings that give a tool-format instruction away, per family."""
