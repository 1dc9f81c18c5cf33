"""Run an evaluation: select the turns, generate them in batches (longest prompts first), read and score each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .generation import Generation, Generator
from .prompts import EvalTemplate
from .report import EvalReport, TurnRecord
from .scoring import score_turn
from .turns import EvalTurn, select_turns


class NothingEvaluated(RuntimeError):
    """No turn could be generated and scored; the message says what became of the rows."""


def evaluate(rows: Iterable[Mapping[str, Any]], generator: Generator, template: EvalTemplate | None = None, *,
             turns: str = "all", limit: int | None = None, progress: bool = False,
             setup: Mapping[str, Any] | None = None) -> EvalReport:
    """Generate every selected assistant turn of ``rows`` from its prefix and score it.

    Args:
        rows: canonical rows (``load_unified(...)``, a built folder's split) or records ``normalize`` accepts.
        generator: a backend (:class:`TransformersGenerator`, :class:`CompletionsGenerator`, :class:`ChatGenerator`).
        template: renders the prompts and reads the output (:func:`eval_template`); not used by a chat server,
            which renders and parses itself.
        turns: ``"all"`` (call turns and no-call turns) or ``"calls"`` (only turns whose reference calls tools).
        limit: evaluate the first ``limit`` rows only.
        setup: facts recorded at the top of the report (dataset, split, ...).

    Raises:
        NothingEvaluated: not one turn was generated and scored.
    """
    if generator.renders_prompts and template is None:
        raise ValueError(f"the {generator.backend} backend needs a template to render prompts (eval_template(...))")
    selection = select_turns(rows, template if generator.renders_prompts else None, kinds=turns, limit=limit)
    records = _generate(selection.turns, generator, template, progress)
    report = EvalReport(setup={**dict(setup or {}), **generator.describe(), **_template_facts(generator, template),
                               "turns_evaluated": turns}, selection=selection, records=records)
    if not report.scored:
        counts = report.counts()
        raise NothingEvaluated(f"no turn evaluated: {counts['rows_in']} row(s) in, skipped "
                               f"{counts['rows_skipped'] or 'none'}, turns left out "
                               f"{counts['turns_left_out'] or 'none'}, generation errors "
                               f"{counts['generation_errors'] or 'none'}"
                               + _first_example(selection.examples, records))
    return report


def _generate(turns: list[EvalTurn], generator: Generator, template: EvalTemplate | None,
              progress: bool) -> list[TurnRecord]:
    """Records in the turns' order; batches are formed longest prompt first (less padding, and a prompt too long
    for the model fails at once)."""
    from tqdm.auto import tqdm

    order = sorted(range(len(turns)), key=lambda i: -len(turns[i].prompt or ""))
    records: list[TurnRecord | None] = [None] * len(turns)
    with tqdm(total=len(turns), desc="generating turns", unit="turn", disable=not progress) as bar:
        for start in range(0, len(order), generator.batch_size):
            batch = order[start:start + generator.batch_size]
            for index, generation in zip(batch, generator.generate([turns[i] for i in batch])):
                records[index] = _record(turns[index], generation, template)
            bar.update(len(batch))
    return [record for record in records if record is not None]


def _record(turn: EvalTurn, generation: Generation, template: EvalTemplate | None) -> TurnRecord:
    """Read one generation (our parser, or the server's calls) and score it."""
    if generation.error is not None:
        return TurnRecord(turn, generation)
    if generation.tool_calls is not None:
        content, calls, parse_error = generation.text, generation.tool_calls, generation.parse_error
    else:
        parsed, parse_error = template.parse(generation.text, turn.tools)
        content, calls = parsed["content"], parsed["tool_calls"]
    score = score_turn(turn.reference_calls, calls, turn.tools, stopped=generation.stopped, parse_error=parse_error)
    return TurnRecord(turn, generation, content=content, tool_calls=list(calls), score=score)


def _template_facts(generator: Generator, template: EvalTemplate | None) -> dict[str, Any]:
    if not generator.renders_prompts:
        return {"template": "the server's chat template", "parser": "the server's tool parser"}
    return {"template": template.name, "parser": template.parser.family, "stop_tokens": list(template.stop_tokens)}


def _first_example(examples: dict[str, list[str]], records: list[TurnRecord]) -> str:
    errors = [record.generation.error for record in records if record.generation.error]
    if errors:
        return f" (e.g. {errors[0]})"
    for reason, found in examples.items():
        if found:
            return f" (e.g. {reason}: {found[0]})"
    return ""
