"""Scripted model servers on loopback, one per wire protocol the agent CLIs speak.

Each serves a script: a list of turns, each turn a list of tool calls (several calls in one
turn: parallel calls), then a closing text. The turn a request is at is the number of tool
results the conversation it carries already holds, so a retried request gets the same answer.
Every request is appended to `requests.jsonl` in the run folder, for the fixtures and for
debugging. Requests that are not the main loop (titles, token counts, summaries) get a short
text answer."""

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DONE = "All scripted commands ran."
MESSAGE_IDS = itertools.count(1)  # each response its own id, as the Messages API gives


class Script:
    def __init__(self, turns: list[list[dict]], log_path: str):
        self.turns, self.log_path = turns, log_path
        self.lock = threading.Lock()

    def log(self, path: str, body) -> None:
        with self.lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": path, "body": body}) + "\n")

    def calls(self, done: int) -> list[dict] | None:
        """The calls of the turn after `done` tool results, None when the script is over."""
        seen = 0
        for turn in self.turns:
            if seen == done:
                return turn
            seen += len(turn)
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, *args) -> None:  # the run folder's requests.jsonl is the log
        pass

    def do_GET(self) -> None:
        self.script.log(self.path, None)
        self.reply_json(self.get_answer())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = {}
        self.script.log(self.path, request)
        self.answer(request)

    def get_answer(self):
        return {"data": [], "models": []}

    def reply_json(self, value, status: int = 200) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def reply_sse(self, events: list[tuple[str | None, dict]]) -> None:
        chunks = []
        for name, data in events:
            chunks.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n")
        payload = "".join(chunks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Claude(_Handler):
    """The Messages API (POST /v1/messages, SSE when `stream`), tool `Bash`."""

    def answer(self, request: dict) -> None:
        if self.path.startswith("/v1/messages/count_tokens"):
            return self.reply_json({"input_tokens": 12})
        tools = [t.get("name") for t in request.get("tools") or [] if isinstance(t, dict)]
        calls = None
        if "Bash" in tools:
            done = sum(1 for m in request.get("messages", []) if isinstance(m.get("content"), list)
                       for block in m["content"] if isinstance(block, dict) and block.get("type") == "tool_result")
            calls = self.script.calls(done)
        blocks = ([{"type": "tool_use", "id": f"toolu_{abs(hash(json.dumps(c))) % 10**12:012d}_{i}", "name": "Bash",
                    "input": c} for i, c in enumerate(calls)] if calls else [{"type": "text", "text": DONE if tools else "Scripted"}])
        stop = "tool_use" if calls else "end_turn"
        message = {"id": f"msg_scripted_{next(MESSAGE_IDS)}", "type": "message", "role": "assistant", "model": request.get("model", "claude"),
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0}}
        if not request.get("stream"):
            return self.reply_json({**message, "content": blocks, "stop_reason": stop})
        events = [("message_start", {"type": "message_start", "message": {**message, "content": []}})]
        for index, block in enumerate(blocks):
            if block["type"] == "tool_use":
                events += [("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": {**block, "input": {}}}),
                           ("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "input_json_delta",
                                                              "partial_json": json.dumps(block["input"])}})]
            else:
                events += [("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": {"type": "text", "text": ""}}),
                           ("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": block["text"]}})]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": 5}}),
                   ("message_stop", {"type": "message_stop"})]
        self.reply_sse(events)


class Codex(_Handler):
    """The Responses API (POST /v1/responses, SSE), tool `exec_command {cmd, yield_time_ms}`."""

    def get_answer(self):
        return {"object": "list", "data": [], "models": []}

    def answer(self, request: dict) -> None:
        items = request.get("input") if isinstance(request.get("input"), list) else []
        done = sum(1 for item in items if isinstance(item, dict) and item.get("type") == "function_call_output")
        calls = self.script.calls(done)
        output = ([{"type": "function_call", "id": f"fc_{done}_{i}", "call_id": f"call_{done}_{i}", "name": "exec_command",
                    "arguments": json.dumps(c)} for i, c in enumerate(calls)] if calls else
                  [{"type": "message", "id": f"msg_{done}", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": DONE, "annotations": []}]}])
        response = {"id": f"resp_{done}", "object": "response", "status": "in_progress", "model": request.get("model")}
        events = [(None, {"type": "response.created", "response": response})]
        events += [(None, {"type": "response.output_item.done", "output_index": i, "item": item})
                   for i, item in enumerate(output)]
        usage = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 17}
        events.append((None, {"type": "response.completed",
                              "response": {**response, "status": "completed", "output": output, "usage": usage}}))
        self.reply_sse(events)


class Gemini(_Handler):
    """The Gemini API (POST /v1beta/models/M:streamGenerateContent?alt=sse, :generateContent,
    :countTokens), tool `run_shell_command`."""

    def answer(self, request: dict) -> None:
        if ":countTokens" in self.path:
            return self.reply_json({"totalTokens": 12})
        tools = [d.get("name") for t in request.get("tools") or [] if isinstance(t, dict)
                 for d in t.get("functionDeclarations") or [] if isinstance(d, dict)]
        calls = None
        if "run_shell_command" in tools:
            done = sum(1 for c in request.get("contents", []) if isinstance(c, dict)
                       for part in c.get("parts") or [] if isinstance(part, dict) and "functionResponse" in part)
            calls = self.script.calls(done)
        parts = ([{"functionCall": {"name": "run_shell_command", "args": c}} for c in calls] if calls else
                 [{"text": DONE if tools else '{"reasoning": "scripted", "next_speaker": "user"}'}])
        response = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 17},
                    "modelVersion": "gemini-scripted"}
        if ":streamGenerateContent" in self.path:
            return self.reply_sse([(None, response)])
        self.reply_json(response)


PROTOCOLS = {"claude-code": Claude, "codex": Codex, "gemini": Gemini}


def serve(agent: str, script: Script) -> ThreadingHTTPServer:
    handler = type("Handler", (PROTOCOLS[agent],), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
