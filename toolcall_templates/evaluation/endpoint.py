"""Generation through an OpenAI-compatible server (vLLM, SGLang, ...), greedy (``temperature: 0``).

* ``/v1/completions`` (:class:`CompletionsGenerator`, the default): the request carries our rendered prompt (as token
  ids when a tokenizer is given, so the server adds no BOS of its own; else as text) and the template's stop tokens
  as ``stop``; the text that comes back is read by our parser, as for a local model. ``skip_special_tokens: false``
  (vLLM, SGLang) keeps special tokens in the output text; ``extra_body`` adds or, with null values, removes request
  fields.
* ``/v1/chat/completions`` with ``tools=`` (:class:`ChatGenerator`): the server renders the messages with its own
  chat template and parses the calls with its own tool parser (vLLM needs ``--enable-auto-tool-choice
  --tool-call-parser NAME``); the calls come back parsed, and a call whose arguments are not a JSON object counts as
  a parse failure. Messages go as OpenAI clients send them: arguments as JSON text, no ``reasoning_content``.

Requests run ``batch_size`` at a time. A server that cannot be reached stops the evaluation (:class:`EndpointError`);
an HTTP error on one request is recorded on its turn, which is then not scored.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .generation import Generation
from .turns import EvalTurn

STOPPED_REASONS = ("stop", "tool_calls")
"""``finish_reason`` values of a turn that ended on its own (``length``: the token limit cut it)."""


class EndpointError(RuntimeError):
    """The server cannot be reached, or does not answer as an OpenAI-compatible server."""


def api_base(url: str) -> str:
    """The ``.../v1`` base of a server URL given as ``http://host:port``, ``.../v1`` or ``.../v1/``."""
    base = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        base = base.removesuffix(suffix)
    return base if base.endswith("/v1") else base + "/v1"


class _Endpoint:
    """What both backends share: the server, the model name, the HTTP calls."""

    renders_prompts = True

    def __init__(self, url: str, model_name: str | None = None, *, max_new_tokens: int = 512, batch_size: int = 8,
                 api_key: str | None = None, extra_body: Mapping[str, Any] | None = None, timeout: float = 600.0):
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be positive")
        self.base = api_base(url)
        self.api_key = api_key
        self.timeout = timeout
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.extra_body = dict(extra_body or {})
        self.model_name = model_name or self._served_model()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "endpoint": self.base, "model": self.model_name,
                "max_new_tokens": self.max_new_tokens, "extra_body": self.extra_body}

    def generate(self, turns: Sequence[EvalTurn]) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=self.batch_size) as pool:
            return list(pool.map(self._one, turns))

    def _one(self, turn: EvalTurn) -> Generation:
        body = {key: value for key, value in {**self.request(turn), **self.extra_body}.items() if value is not None}
        try:
            answer = self._call("POST", self.path, body)
        except _HttpError as exc:
            return Generation(text="", stopped=False, finish_reason="error", error=str(exc))
        try:
            return self.read(answer)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EndpointError(f"{self.base}{self.path} answered without choices[0] as an OpenAI-compatible server "
                                f"does ({type(exc).__name__}: {exc}): {json.dumps(answer)[:300]}") from None

    def _served_model(self) -> str:
        """The one model the server serves (``GET /v1/models``); an error naming them when there are several."""
        try:
            models = [entry["id"] for entry in self._call("GET", "/models", None)["data"]]
        except _HttpError as exc:
            raise EndpointError(f"cannot list the models of {self.base} ({exc}); pass the model name") from None
        except (KeyError, TypeError) as exc:
            raise EndpointError(f"{self.base}/models did not answer with a model list ({exc})") from None
        if len(models) != 1:
            raise EndpointError(f"{self.base} serves {len(models)} models ({', '.join(models)}); pass the model name")
        return models[0]

    def _call(self, method: str, path: str, body: Any) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise _HttpError(f"HTTP {exc.code} from {self.base}{path}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"cannot reach {self.base}{path}: {reason}") from None
        except ValueError as exc:
            raise EndpointError(f"{self.base}{path} did not answer with JSON ({exc})") from None

    # -- per backend -------------------------------------------------------------------------------------------
    backend = ""
    path = ""

    def request(self, turn: EvalTurn) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, answer: Mapping[str, Any]) -> Generation:
        raise NotImplementedError


class _HttpError(Exception):
    """The server answered one request with an HTTP error."""


class CompletionsGenerator(_Endpoint):
    """``/v1/completions`` with the exact rendered prompt; our parser reads the output."""

    backend = "completions"
    path = "/completions"

    def __init__(self, url: str, model_name: str | None, stop_tokens: Sequence[str], *, tokenizer: Any = None,
                 **options: Any):
        self.stop_tokens = list(stop_tokens)
        self.tokenizer = tokenizer
        super().__init__(url, model_name, **options)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "stop": self.stop_tokens,
                "prompt_as": "token_ids" if self.tokenizer is not None else "text"}

    def request(self, turn: EvalTurn) -> dict[str, Any]:
        prompt: Any = turn.prompt
        if self.tokenizer is not None:
            prompt = self.tokenizer(turn.prompt, add_special_tokens=False)["input_ids"]
        return {"model": self.model_name, "prompt": prompt, "max_tokens": self.max_new_tokens, "temperature": 0,
                "stop": self.stop_tokens, "skip_special_tokens": False}

    def read(self, answer: Mapping[str, Any]) -> Generation:
        choice = answer["choices"][0]
        reason = str(choice.get("finish_reason") or "length")
        usage = answer.get("usage") or {}
        return Generation(text=choice["text"] or "", stopped=reason in STOPPED_REASONS, finish_reason=reason,
                          new_tokens=usage.get("completion_tokens"))


class ChatGenerator(_Endpoint):
    """``/v1/chat/completions`` with ``tools=``: the server's chat template and tool parser."""

    backend = "chat"
    path = "/chat/completions"
    renders_prompts = False

    def request(self, turn: EvalTurn) -> dict[str, Any]:
        return {"model": self.model_name, "messages": [openai_message(m) for m in turn.messages],
                "tools": turn.tools, "max_tokens": self.max_new_tokens, "temperature": 0}

    def read(self, answer: Mapping[str, Any]) -> Generation:
        choice = answer["choices"][0]
        message = choice["message"]
        reason = str(choice.get("finish_reason") or "length")
        calls, problems = [], []
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call["function"]
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments)
                except ValueError as exc:
                    problems.append(f"call {index} {function.get('name')}: arguments are not JSON ({exc})")
            if not isinstance(arguments, dict) and not any(p.startswith(f"call {index} ") for p in problems):
                problems.append(f"call {index} {function.get('name')}: arguments are not a JSON object")
            calls.append({"id": call.get("id", f"call_{index}"), "type": "function",
                          "function": {"name": function.get("name", ""), "arguments": arguments}})
        usage = answer.get("usage") or {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return Generation(text=message.get("content") or "", stopped=reason in STOPPED_REASONS, finish_reason=reason,
                          tool_calls=calls, parse_error="; ".join(problems) or None,
                          reasoning=reasoning if isinstance(reasoning, str) else None,
                          new_tokens=usage.get("completion_tokens"))


def openai_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical message as OpenAI clients send it: call arguments as JSON text, only the keys of the API."""
    out: dict[str, Any] = {"role": message["role"], "content": message.get("content", "")}
    if message.get("tool_calls"):
        out["tool_calls"] = [{"id": call.get("id", f"call_{index}"), "type": "function",
                              "function": {"name": call["function"]["name"],
                                           "arguments": json.dumps(call["function"]["arguments"], ensure_ascii=False)}}
                             for index, call in enumerate(message["tool_calls"])]
    for key in ("tool_call_id", "name"):
        if key in message:
            out[key] = message[key]
    return out
