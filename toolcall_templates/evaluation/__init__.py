"""Evaluate a tool-calling model on a dataset: generate each assistant turn from its prefix, read it back, score it.

For every assistant message ``k`` of a row that declares tools, the model is given what it gets at inference, the
prompt ``render(messages[:k], tools, add_generation_prompt=True)`` of the chat template it was trained with, and
generates greedily until a stop token of that template (or ``max_new_tokens``). The output is read with
``parse_assistant(text, template, strict=False, tools=tools)``, as vLLM's and SGLang's tool parsers read it. A chat
server (``/v1/chat/completions`` with ``tools=``) renders and parses with its own template and tool parser instead.

The scores (:func:`group_scores`, per kind of turn and for all turns):

* A **call turn** is one whose reference message calls tools; a **no-call turn** one whose reference does not (the
  model should answer, ask, or refuse, and call nothing).
* **tool-name accuracy** (call turns): the multiset of generated call names equals the reference's.
* **exact call match** (call turns): the multiset of generated ``(name, arguments)`` equals the reference's, the
  arguments compared as JSON values (key order ignored, numbers by value: ``1`` equals ``1.0``, ``true`` is not
  ``1``); parallel calls match in any order, each reference call to a distinct generated call.
* **no-call accuracy** (no-call turns): the model made no call.
* **turn accuracy**: call turns with an exact call match and no-call turns without a call, over all turns.
* **argument validity**: of the calls the model made, the share that name a declared tool and whose arguments
  satisfy its JSON Schema (``validation.schema_errors``: required arguments, types, ``enum``, no undeclared
  argument).
* **stopped on a stop token**: the share of turns whose generation ended on a stop token rather than at
  ``max_new_tokens``.
* **parse failures**: turns whose output holds tool-call markup that strict parsing rejects (malformed, or cut off
  by the token limit); lenient parsing yields no call for such a call and keeps the complete calls before it. With a
  chat server: calls whose arguments are not a JSON object.

Rows are all accounted for: ``rows_in`` = rows evaluated + rows skipped (by reason); turns the template cannot
render are left out with the reason, and a server's error on a request is recorded on its turn, which is not scored.
"""

from __future__ import annotations

from .data import DatasetUnavailable, load_rows
from .endpoint import ChatGenerator, CompletionsGenerator, EndpointError
from .evaluate import NothingEvaluated, evaluate
from .generation import Generation, Generator
from .local_model import TransformersGenerator, load_model
from .prompts import EvalTemplate, eval_template
from .report import EvalReport, group_scores
from .scoring import TurnScore, score_turn
from .turns import EvalTurn, select_turns

__all__ = [
    "ChatGenerator", "CompletionsGenerator", "DatasetUnavailable", "EndpointError", "EvalReport", "EvalTemplate",
    "EvalTurn", "Generation", "Generator", "NothingEvaluated", "TransformersGenerator", "TurnScore", "eval_template",
    "evaluate", "group_scores", "load_model", "load_rows", "score_turn", "select_turns",
]
