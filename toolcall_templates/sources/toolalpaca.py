"""ToolAlpaca toolsets (tangqiaoyu/ToolAlpaca ``eval_real.json`` / ``eval_simulated.json``, and the training file).

A toolset record describes one API: ``Name``, ``Category``, ``Function_Description`` (prose per function),
``Instructions`` (user requests) and ``Golden_Answers`` (per instruction, a list of
``{"Action": name, "Action_Input": "<JSON string>"}``); the training file adds ``Instances`` (per instruction:
``input``, ``output``, ``Final Thought``, ``intermediate_steps = [[[action, action_input, log], observation], ...]``).

``iter_records(path)`` explodes every toolset into one record per instruction (carrying the toolset's
``Name``/``Description``/``Category``/``Function_Description``, plus ``Instruction`` and ``Golden_Answer``, or
``Instance``, and ``instruction_index``). ``to_row`` builds one row from such a record:

* tools come from the prose descriptions (see ``_toolalpaca_tools``);
* **golden answer** → ``user(instruction)`` then one assistant turn with the actions as calls (no results exist);
  ``meta["reference_answer"] = True``. An ``[Optional]`` prefix on an action name is removed and the call listed in
  ``meta["optional_actions"]``. Golden answers that ask the user a question (ToolAlpaca's ``getDetails`` pseudo
  action) or use ``${...}`` placeholders for values of earlier results cannot become calls: rejected with the reason.
* **instance** (training transcript) → user, then per step an assistant call (the ``Thought:`` text of the step's log
  as ``reasoning_content``) and its observation as a tool result, then the final ``output`` (``Final Thought`` as its
  reasoning).

An unexploded toolset given to ``to_row`` directly is rejected with a hint to use ``iter_records``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..conversation import ConversationBuilder, as_text
from ..errors import InvalidRecord
from ..schema import Row
from ._files import check_readable, read_records, record_files
from ._reference import provenance
from ._toolalpaca_tools import tools_from_descriptions

FORMAT = "toolalpaca"
OPTIONS: tuple[str, ...] = ("license", "language")
UPSTREAM_LICENSE = "apache-2.0"
ASK_USER_ACTION = "getDetails"
_OPTIONAL_PREFIX = "[Optional]"
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")
_CARRIED_KEYS = ("Name", "Description", "Category", "Link", "Function_Description")
_ACTION_LINE = re.compile(r"\n?\s*Action\s*:", re.IGNORECASE)
_THOUGHT_PREFIX = re.compile(r"^\s*(?:ASSISTANT\s+)?Thought\s*:\s*", re.IGNORECASE)


def detect(record: dict) -> bool:
    return isinstance(record.get("Function_Description"), dict) and any(
        key in record for key in ("Instruction", "Instructions", "Instance", "Instances"))


def iter_records(path: Path) -> Iterator[Any]:
    """One record per instruction of every toolset in ``path`` (a JSON / JSON-lines file, or a folder of them)."""
    files = record_files(path) if path.is_dir() else [path]
    for file in files:
        for record in read_records(file):
            yield from explode(record)


def explode(toolset: Any) -> Iterator[Any]:
    """The per-instruction records of one toolset (records that are not toolsets pass through unchanged)."""
    if not isinstance(toolset, dict) or "Instruction" in toolset or "Instance" in toolset:
        yield toolset
        return
    base = {key: toolset[key] for key in _CARRIED_KEYS if key in toolset}
    instances, instructions = toolset.get("Instances"), toolset.get("Instructions")
    if isinstance(instances, list) and instances:
        for index, instance in enumerate(instances):
            yield {**base, "Instance": instance, "instruction_index": index}
        return
    if not isinstance(instructions, list):
        yield toolset
        return
    golden = toolset.get("Golden_Answers")
    for index, instruction in enumerate(instructions):
        answer = golden[index] if isinstance(golden, list) and index < len(golden) else None
        yield {**base, "Instruction": instruction, "Golden_Answer": answer, "instruction_index": index}


def to_row(record: dict, *, source: str, strict: bool, options: dict) -> Row:
    check_readable(record)
    if "Instruction" not in record and "Instance" not in record:
        count = len(record.get("Instructions") or record.get("Instances") or [])
        raise InvalidRecord(f"ToolAlpaca toolset record holds {count} instructions: explode it with iter_records "
                            "(one row per instruction) before normalizing")
    builder = ConversationBuilder(tools_from_descriptions(record.get("Function_Description")))
    meta: dict[str, Any] = {"toolset": record.get("Name"), "instruction_index": record.get("instruction_index"),
                            **provenance(options, UPSTREAM_LICENSE)}
    if isinstance(record.get("Category"), str):
        meta["category"] = record["Category"]
    if "Instance" in record:
        _instance(builder, record["Instance"])
        meta["reference_answer"] = False
    else:
        _golden(builder, record.get("Instruction"), record.get("Golden_Answer"), meta)
        meta["reference_answer"] = True
    return builder.build(source, meta, strict)


def _golden(builder: ConversationBuilder, instruction: Any, answer: Any, meta: dict[str, Any]) -> None:
    if not isinstance(instruction, str) or not instruction.strip():
        raise InvalidRecord("ToolAlpaca record has no instruction text")
    if not isinstance(answer, list) or not answer:
        raise InvalidRecord("ToolAlpaca instruction has no golden answer (empty or missing action sequence)")
    builder.user(instruction)
    optional: list[str] = []
    for index, action in enumerate(answer):
        if not isinstance(action, dict):
            raise InvalidRecord(f"Golden_Answer[{index}] must be an object with Action and Action_Input")
        name, arguments = action.get("Action"), action.get("Action_Input")
        if not isinstance(name, str) or not name.strip():
            raise InvalidRecord(f"Golden_Answer[{index}] has no Action name")
        if name.strip() == ASK_USER_ACTION:
            raise InvalidRecord(f"Golden_Answer[{index}] asks the user for details ({ASK_USER_ACTION}); the user's "
                                "reply is not in the record, so the later calls cannot be built")
        if isinstance(arguments, str) and _PLACEHOLDER.search(arguments):
            raise InvalidRecord(f"Golden_Answer[{index}] {name!r} uses a placeholder for a value of an earlier "
                                f"result ({_PLACEHOLDER.search(arguments).group(0)!r}), not a concrete argument")
        if name.startswith(_OPTIONAL_PREFIX):
            name = name[len(_OPTIONAL_PREFIX):].strip()
            optional.append(name)
        builder.call(name, arguments)
    if optional:
        meta["optional_actions"] = optional


def _instance(builder: ConversationBuilder, instance: Any) -> None:
    if not isinstance(instance, dict):
        raise InvalidRecord("ToolAlpaca Instance must be an object")
    instruction = instance.get("input")
    if not isinstance(instruction, str) or not instruction.strip():
        raise InvalidRecord("ToolAlpaca Instance has no 'input' instruction")
    steps = instance.get("intermediate_steps") or []
    if not isinstance(steps, list):
        raise InvalidRecord("ToolAlpaca Instance 'intermediate_steps' must be a list")
    builder.user(instruction)
    for index, step in enumerate(steps):
        action, observation = _step(step, index)
        name, arguments = action[0], action[1]
        log = action[2] if len(action) > 2 and isinstance(action[2], str) else ""
        thought = _thought(log)
        if thought:
            builder.assistant("", thought)
        builder.call(name, arguments)
        builder.result(as_text(observation, f"intermediate_steps[{index}] observation"))
    output = instance.get("output")
    if not isinstance(output, str) or not output.strip():
        raise InvalidRecord("ToolAlpaca Instance has no final 'output'")
    final_thought = instance.get("Final Thought")
    builder.assistant(output, final_thought if isinstance(final_thought, str) and final_thought.strip() else None)


def _step(step: Any, index: int) -> tuple[list[Any], Any]:
    if (not isinstance(step, list) or len(step) != 2 or not isinstance(step[0], list) or len(step[0]) < 2
            or not isinstance(step[0][0], str)):
        raise InvalidRecord(f"intermediate_steps[{index}] must be [[action, action_input, log], observation]")
    return step[0], step[1]


def _thought(log: str) -> str:
    """The thought part of a ReAct log (text before ``Action:``, without the ``Thought:`` label)."""
    match = _ACTION_LINE.search(log)
    text = log[:match.start()] if match else ""
    return _THOUGHT_PREFIX.sub("", text).strip()
