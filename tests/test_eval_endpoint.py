"""``toolcall eval --endpoint`` against a local OpenAI-compatible server (``http.server`` in a thread, no network).

The server answers as a perfect model would, from the reference turns as the template renders them (stop token
trimmed, as vLLM trims a ``stop`` string), except where a test makes it cut a call off at the token limit, fail a
request, or return broken arguments; every request body is recorded and checked: the exact rendered prompt (text,
or token ids with a tokenizer), the template's stop tokens, greedy decoding, the tools and OpenAI-shaped messages.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import load_tokenizer, run_toolcall, shared_path, stand_in_tokenizer

from toolcall_templates import normalize, render

PICK = (8, 48, 43)
"""Glaive demo records: a call then an answer, a call then an answer, a refusal (no call)."""
QWEN_STOPS = ["<|im_end|>", "<|endoftext|>"]


class OpenAIServer:
    """``/v1/models``, ``/v1/completions`` and ``/v1/chat/completions``; ``answer(path, body)`` gives ``(status,
    JSON)``; ``requests`` holds every request body received."""

    def __init__(self, answer, models=("tiny",)):
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": name, "object": "model"} for name in models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                self._send(*answer(self.path, body))

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server_factory():
    servers = []

    def start(answer, **options):
        servers.append(OpenAIServer(answer, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """The raw LLaMA-Factory records (normalized by ``toolcall eval`` on the way) and their canonical rows."""
    source = shared_path("sources", "llamafactory_sharegpt_tools", "glaive_toolcall_en_demo.json")
    raw = [json.loads(source.read_text(encoding="utf-8"))[i] for i in PICK]
    path = tmp_path_factory.mktemp("eval-endpoint") / "rows.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path, [normalize(record) for record in raw]


def reference_turns(rows, render_prompt, render_whole, stop):
    """``[(prompt, generated text without the stop token, row, message index)]`` of every assistant message."""
    turns = []
    for row in rows:
        for k, message in enumerate(row["messages"]):
            if message["role"] == "assistant":
                prompt, whole = render_prompt(row["messages"][:k], row["tools"]), render_whole(
                    row["messages"][:k + 1], row["tools"])
                assert whole.startswith(prompt)
                turns.append((prompt, whole[len(prompt):].split(stop)[0], row, k))
    return turns


def completion(text, reason="stop"):
    return 200, {"object": "text_completion", "model": "tiny",
                 "choices": [{"index": 0, "text": text, "finish_reason": reason}],
                 "usage": {"completion_tokens": len(text) // 3}}


def run_eval(*args):
    result = run_toolcall("eval", "--no-progress", *args)
    return result


def test_completions_get_the_exact_prompt_and_stop_tokens_and_the_scores_count_every_outcome(
        records, server_factory, tmp_path):
    path, rows = records
    turns = reference_turns(rows, lambda m, t: render("qwen2.5", m, t, add_generation_prompt=True)[0],
                            lambda m, t: render("qwen2.5", m, t)[0], "<|im_end|>")
    answers = {prompt: generated for prompt, generated, _, _ in turns}
    cut_prompt = turns[0][0]  # row 8's call: cut off by the token limit halfway through the call
    failing_prompt = turns[3][0]  # row 48's answer: the server refuses the request

    def answer(path, body):
        assert path == "/v1/completions", path
        prompt = body["prompt"]
        if prompt == cut_prompt:
            return completion(answers[prompt][:len(answers[prompt]) // 2], "length")
        if prompt == failing_prompt:
            return 400, {"error": {"message": "This model's maximum context length is 16 tokens"}}
        return completion(answers[prompt]) if prompt in answers else (404, {"error": "unknown prompt"})

    server = server_factory(answer)
    report_path = tmp_path / "report.json"
    result = run_eval("--in", path, "--endpoint", server.url, "--template", "qwen2.5", "--max-new-tokens", "77",
                      "--extra-body", '{"top_k": 1}', "--out", report_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert (report["backend"], report["model"], report["template"], report["parser"]) == (
        "completions", "tiny", "qwen2.5", "qwen")
    assert report["prompt_as"] == "text" and report["stop"] == QWEN_STOPS
    counts = report["counts"]
    assert (counts["rows_in"], counts["rows_evaluated"], counts["turns_generated"], counts["turns_scored"]) == (
        3, 3, 5, 4)
    assert counts["generation_errors"] == {"HTTP 400": 1}
    calls, no_calls = report["scores"]["call_turns"], report["scores"]["no_call_turns"]
    assert (calls["turns"], calls["exact_match"]["hits"], calls["tool_name_accuracy"]["hits"]) == (2, 1, 1)
    assert (calls["parse_failures"], calls["stopped_rate"]["hits"]) == (1, 1)
    assert (no_calls["turns"], no_calls["no_call_accuracy"]["rate"], no_calls["stopped_rate"]["rate"]) == (2, 1.0, 1.0)
    assert report["scores"]["all_turns"]["turn_accuracy"] == {"hits": 3, "total": 4, "rate": 0.75}
    cut = next(t for t in report["turns"] if t["finish_reason"] == "length")
    assert cut["parse_failure"] and cut["tool_calls"] == [] and "unterminated <tool_call>" in cut["errors"][0]
    assert "exact call match" in result.stdout and "generation errors (HTTP 400): 1" in result.stdout
    bodies = [body for _, body in server.requests]
    assert sorted(body["prompt"] for body in bodies) == sorted(prompt for prompt, *_ in turns)
    for body in bodies:
        assert body["stop"] == QWEN_STOPS and body["temperature"] == 0 and body["max_tokens"] == 77
        assert body["model"] == "tiny" and body["skip_special_tokens"] is False and body["top_k"] == 1


def test_completions_with_a_tokenizer_send_token_ids_rendered_by_its_own_template(records, server_factory, tmp_path):
    """A tokenizer whose chat template is not a shipped one: its own template renders the prompts, its turns read
    back with the parser that reads its calls (the Hermes / Qwen ``<tool_call>`` format here)."""
    path, rows = records
    official = load_tokenizer("qwen2.5").chat_template
    own = official.replace("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                           "You are Hermes, a function-calling model.")
    tokenizer = stand_in_tokenizer("qwen2.5", chat_template=own)
    folder = tmp_path / "tokenizer"
    tokenizer.save_pretrained(str(folder))

    def own_render(messages, tools, generation_prompt):
        return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                             add_generation_prompt=generation_prompt)

    turns = reference_turns(rows, lambda m, t: own_render(m, t, True), lambda m, t: own_render(m, t, False),
                            "<|im_end|>")
    answers = {tuple(tokenizer(prompt, add_special_tokens=False)["input_ids"]): text for prompt, text, *_ in turns}
    server = server_factory(lambda path, body: completion(answers[tuple(body["prompt"])]))
    report_path = tmp_path / "report.json"
    result = run_eval("--in", path, "--endpoint", server.url, "--model-name", "tiny", "--tokenizer", folder,
                      "--out", report_path, "--extra-body", '{"skip_special_tokens": null}')
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert (report["template"], report["parser"], report["prompt_as"]) == ("own", "qwen", "token_ids")
    assert report["scores"]["all_turns"]["turn_accuracy"]["rate"] == 1.0
    assert report["scores"]["call_turns"]["exact_match"] == {"hits": 2, "total": 2, "rate": 1.0}
    assert all("You are Hermes" in tokenizer.decode(body["prompt"]) for _, body in server.requests)
    assert all("skip_special_tokens" not in body for _, body in server.requests)


def test_chat_completions_send_openai_messages_and_tools_and_read_the_servers_calls(
        records, server_factory, tmp_path):
    path, rows = records
    references = {}
    for row in rows:
        for k, message in enumerate(row["messages"]):
            if message["role"] == "assistant":
                references[json.dumps(row["messages"][0]["content"]) + str(k)] = message

    def answer(path, body):
        assert path == "/v1/chat/completions", path
        assert "stop" not in body and body["temperature"] == 0
        reference = references[json.dumps(body["messages"][0]["content"]) + str(len(body["messages"]))]
        calls = [{"id": f"chatcmpl-tool-{i}", "type": "function",
                  "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])}}
                 for i, c in enumerate(reference.get("tool_calls", []))]
        if calls and '"bill_amount": 100,' in calls[0]["function"]["arguments"]:
            calls[0]["function"]["arguments"] = '{"bill_amount": 100, "tip_'  # the server's parser let it through
        message = {"role": "assistant", "content": None if calls else reference["content"], "tool_calls": calls}
        return 200, {"choices": [{"index": 0, "message": message,
                                  "finish_reason": "tool_calls" if calls else "stop"}]}

    server = server_factory(answer, models=("tiny", "other"))
    report_path = tmp_path / "report.json"
    result = run_eval("--in", path, "--endpoint", server.url, "--model-name", "other", "--api", "chat",
                      "--out", report_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert (report["backend"], report["template"], report["parser"]) == (
        "chat", "the server's chat template", "the server's tool parser")
    calls = report["scores"]["call_turns"]
    assert (calls["turns"], calls["exact_match"]["hits"], calls["parse_failures"]) == (2, 1, 1)
    assert report["scores"]["no_call_turns"]["no_call_accuracy"]["rate"] == 1.0
    assert report["scores"]["all_turns"]["stopped_rate"]["rate"] == 1.0
    tools_by_row = {json.dumps(row["messages"][0]["content"]): row["tools"] for row in rows}
    for _, body in server.requests:
        assert body["model"] == "other"
        assert body["tools"] == tools_by_row[json.dumps(body["messages"][0]["content"])]
        for message in body["messages"]:
            assert set(message) <= {"role", "content", "tool_calls", "tool_call_id", "name"}
            for tool_call in message.get("tool_calls", []):
                assert isinstance(tool_call["function"]["arguments"], str)
                json.loads(tool_call["function"]["arguments"])


def test_a_server_that_cannot_be_reached_or_serves_several_models_is_an_error(records, server_factory):
    path, _ = records
    server = server_factory(lambda path, body: completion(""), models=("a", "b"))
    several = run_eval("--in", path, "--endpoint", server.url, "--template", "qwen2.5")
    assert several.returncode == 2 and "serves 2 models (a, b); pass the model name" in several.stderr
    server.close()
    gone = run_eval("--in", path, "--endpoint", server.url, "--model-name", "a", "--template", "qwen2.5")
    assert gone.returncode == 2 and "cannot reach" in gone.stderr
    no_template = run_eval("--in", path, "--endpoint", server.url, "--model-name", "a")
    assert no_template.returncode == 2 and "pass --template" in no_template.stderr
