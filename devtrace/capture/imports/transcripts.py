"""Agent transcripts read line by line into shell `Call`s and per-session `Usage`.

Each reader takes a binary file and a `Sessions` collector, yields one `Call` per shell tool
call (None for a line it could not use: not JSON, not UTF-8, cut short), and adds each
model response's tokens to the collector. The exit code of a call comes from the same
rules the agent's hook applies to its payload (devtrace.capture.hooks.agents): the call's
result is handed to them shaped as the hook's payload would be.

Token counts are stored as four disjoint kinds: `input` (not read from a cache), `output`
(reasoning included), `cache_read` and `cache_write`. Codex and Gemini count cached input
inside their input tokens; it is subtracted.
"""

import codecs
import json
import re
from collections.abc import Iterator
from typing import TypeVar

from devtrace.capture.hooks.agents import claude_code, codex, commands, gemini
from devtrace.capture.hooks.agents.transcript import seconds


class Call:
    __slots__ = ("agent", "session", "call_id", "line", "started_at", "duration_ms", "exit_code", "timed_out",
                 "background", "cwd", "model", "approximate")

    def __init__(self, agent, session, call_id, line, started_at, duration_ms, exit_code, timed_out, background,
                 cwd, model):
        self.agent, self.session, self.call_id, self.line = agent, session, call_id, line
        self.started_at, self.duration_ms, self.exit_code, self.timed_out = started_at, duration_ms, exit_code, timed_out
        self.background, self.cwd, self.model = background, cwd, model
        self.approximate = duration_ms is not None  # timed from the transcript's timestamps


class Usage:
    __slots__ = ("started_at", "ended_at", "turns", "requests", "input", "output", "cache_read", "cache_write")

    def __init__(self):
        self.started_at = self.ended_at = None
        self.turns = self.requests = self.input = self.output = self.cache_read = self.cache_write = 0


class Sessions:
    """Usage per (agent, session, model); `seen` marks a session's time span and turns."""

    def __init__(self):
        self.usage: dict[tuple[str, str, str], Usage] = {}
        self.span: dict[tuple[str, str], list] = {}  # (agent, session) -> [start, end, turns, tool calls]

    def seen(self, agent: str, session: str, at: float | None, turn: bool = False, tool_calls: int = 0) -> None:
        span = self.span.setdefault((agent, session), [None, None, 0, 0])
        if at is not None:
            span[0] = at if span[0] is None else min(span[0], at)
            span[1] = at if span[1] is None else max(span[1], at)
        span[2] += int(turn)
        span[3] += tool_calls

    def tokens(self, agent: str, session: str, model: str | None, *, input=0, output=0, cache_read=0, cache_write=0,
               requests=1) -> None:
        usage = self.usage.setdefault((agent, session, model or ""), Usage())
        usage.requests += requests
        usage.input += max(0, _int(input))
        usage.output += max(0, _int(output))
        usage.cache_read += max(0, _int(cache_read))
        usage.cache_write += max(0, _int(cache_write))


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _records(f) -> Iterator[dict | None]:
    """Each line's JSON object; None for a line that is not one (damaged, or cut short)."""
    for raw in f:
        if not raw.strip():
            continue
        try:  # a line cut short (the last one of a file being written) is not JSON: whole or nothing
            record = json.loads(raw)
        except ValueError:  # UnicodeDecodeError is one
            yield None
            continue
        yield record if isinstance(record, dict) else None


_Default = TypeVar("_Default")


def _dict(value) -> dict:
    """A JSON object's member that should be an object: {} where it is anything else."""
    return value if isinstance(value, dict) else {}


def _text(value, default: _Default) -> str | _Default:
    """A JSON object's member that should be a string: `default` where it is anything else."""
    return value if isinstance(value, str) else default


def _ms(start: float | None, end: float | None) -> int | None:
    return max(0, round((end - start) * 1000)) if start is not None and end is not None else None


# Claude Code: ~/.claude/projects/<project>/<session>.jsonl

def read_claude_code(f, sessions: Sessions) -> Iterator[Call | None]:
    """A command run in the background (`run_in_background`) has its result at launch; it is
    held until Claude's task notification for it (a `queue-operation` entry, then an
    `attachment`) says how it ended, and timed to that, approximately. A session that ended
    first leaves its exit unknown (NULL), as the hook does."""
    pending: dict[str, tuple] = {}
    launched: dict[str, Call] = {}
    last_message = None
    for record in _records(f):
        if record is None:
            yield None
            continue
        session = record.get("sessionId")
        if not isinstance(session, str) or not session:
            continue
        at = seconds(record.get("timestamp"))
        if launched:
            done = _notified(record, launched)
            if done is not None:
                done.duration_ms = _ms(done.started_at, at)
                done.approximate = done.duration_ms is not None
                yield done
        message = _dict(record.get("message"))
        content = message.get("content")
        if record.get("type") == "assistant":
            sessions.seen("claude-code", session, at)
            model = _text(message.get("model"), None)
            usage = message.get("usage")
            if isinstance(usage, dict) and message.get("id") != last_message:  # one response, several lines
                sessions.tokens("claude-code", session, model, input=usage.get("input_tokens"),
                                output=usage.get("output_tokens"), cache_read=usage.get("cache_read_input_tokens"),
                                cache_write=usage.get("cache_creation_input_tokens"))
            last_message = message.get("id")
            uses = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"] \
                if isinstance(content, list) else []
            sessions.seen("claude-code", session, None, tool_calls=len(uses))
            for block in uses:
                if block.get("name") == "Bash" \
                        and isinstance(block.get("id"), str):
                    pending[block["id"]] = (block.get("input"), at, model, record.get("cwd"), session)
        elif record.get("type") == "user":
            sessions.seen("claude-code", session, at)
            last_message = None
            if isinstance(content, str) or (isinstance(content, list) and any(
                    isinstance(b, dict) and b.get("type") == "text" for b in content)):
                if not record.get("isMeta"):
                    sessions.seen("claude-code", session, None, turn=True)
            for block in content if isinstance(content, list) else ():
                if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("tool_use_id") in pending:
                    call = block["tool_use_id"]
                    found = _claude_call(call, pending.pop(call), block, record.get("toolUseResult"), at)
                    if found is not None and found.background and claude_code.launched_in_background(record, call):
                        launched[call] = found
                    else:
                        yield found
    for call, started in pending.items():  # no result: the session stopped first
        yield _claude_call(call, started, None, None, None)
    yield from launched.values()  # no notification: how they ended is unknown


def _notified(record: dict, launched: dict[str, Call]) -> Call | None:
    """The background call a task notification in this entry is about, with its exit."""
    text = record.get("content")
    if not isinstance(text, str):
        text = _dict(record.get("attachment")).get("prompt")
    if not isinstance(text, str) or "<task-notification>" not in text:
        return None
    call = re.search(r"<tool-use-id>([^<]+)</tool-use-id>", text)
    done = launched.pop(call.group(1), None) if call else None
    if done is not None:
        done.exit_code = claude_code.background_exit(text)
        done.timed_out = False
    return done


def _claude_call(call: str, started: tuple, block: dict | None, result, ended_at: float | None) -> Call | None:
    tool_input, started_at, model, cwd, session = started
    line = commands.line_of(tool_input)
    if line is None or started_at is None:
        return None
    duration = _ms(started_at, ended_at)
    if block is None:
        exit_code, timed_out, background = None, None, isinstance(tool_input, dict) and tool_input.get("run_in_background") is True
    else:
        text = block.get("content")
        if isinstance(text, list):
            text = "\n".join(b.get("text", "") for b in text if isinstance(b, dict) and isinstance(b.get("text"), str))
        failed = block.get("is_error") is True
        payload = {"hook_event_name": "PostToolUseFailure" if failed else "PostToolUse", "tool_input": tool_input,
                   "tool_response": result if isinstance(result, dict) else {}, "error": text if failed else None,
                   "duration_ms": duration,
                   "is_interrupt": isinstance(result, dict) and result.get("interrupted") is True}
        outcome = claude_code.outcome(payload)
        exit_code, timed_out, background = outcome.exit_code, outcome.timed_out, outcome.background
    if background:
        duration = None
    cwd = commands.directory(line, cwd if isinstance(cwd, str) else "/")
    return Call("claude-code", session, call, line, started_at, duration, exit_code, timed_out, background, cwd, model)


# Codex: $CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl

def read_codex(f, sessions: Sessions) -> Iterator[Call | None]:
    session, cwd, model, totals = None, "/", None, None
    pending: dict[str, tuple] = {}
    for record in _records(f):
        if record is None:
            yield None
            continue
        payload = _dict(record.get("payload"))
        at = seconds(record.get("timestamp"))
        kind, inner = record.get("type"), payload.get("type")
        if kind == "session_meta":
            session = _text(payload.get("id"), session)
            cwd = _text(payload.get("cwd"), cwd)
        if not session:
            continue
        sessions.seen("codex", session, at)
        if kind == "turn_context":
            model = _text(payload.get("model"), model)
            cwd = _text(payload.get("cwd"), cwd)
        elif inner == "task_started":
            sessions.seen("codex", session, None, turn=True)
        elif inner == "token_count" and isinstance(payload.get("info"), dict):
            last = payload["info"].get("last_token_usage")
            if isinstance(last, dict) and payload["info"].get("total_token_usage") != totals:
                totals = payload["info"].get("total_token_usage")  # repeated when nothing new was used
                cached = _int(last.get("cached_input_tokens"))
                sessions.tokens("codex", session, model, input=_int(last.get("input_tokens")) - cached,
                                output=last.get("output_tokens"), cache_read=cached,
                                cache_write=last.get("cache_write_input_tokens"))
        if kind == "response_item" and inner in ("function_call", "custom_tool_call", "local_shell_call"):
            sessions.seen("codex", session, None, tool_calls=1)
        if inner == "function_call" and payload.get("name") in ("exec_command", "shell", "local_shell") \
                and isinstance(payload.get("call_id"), str):
            try:
                arguments = json.loads(payload.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            command = arguments.get("cmd", arguments.get("command")) if isinstance(arguments, dict) else None
            pending[payload["call_id"]] = (command, at, model, cwd)
        elif inner == "item_completed" and isinstance(payload.get("item"), dict) \
                and payload["item"].get("type") == "CommandExecution" and payload["item"].get("id") in pending:
            # Codex's own `duration` and `started_at_ms` are not the command's: `sleep 1.2` had
            # 1,069 ms. It is timed from the call to its completion, as the hook times it.
            item = payload["item"]
            command, started_at, call_model, call_cwd = pending.pop(item["id"])
            code = item.get("exit_code")
            yield _codex_call(session, item["id"], command, started_at, _ms(started_at, at),
                              code if isinstance(code, int) and not isinstance(code, bool) else None,
                              _cwd(item.get("cwd")) or call_cwd, call_model)
        elif inner == "function_call_output" and payload.get("call_id") in pending:
            # run in the sandbox: no item_completed, the output's header has the exit code
            command, started_at, call_model, call_cwd = pending.pop(payload["call_id"])
            code = codex._exit_from_output(payload.get("output"))
            yield _codex_call(session, payload["call_id"], command, started_at, _ms(started_at, at), code,
                              call_cwd, call_model)
    for call, (command, started_at, call_model, call_cwd) in pending.items():
        yield _codex_call(session, call, command, started_at, None, None, call_cwd, call_model)


def _cwd(value) -> str | None:
    if not isinstance(value, str):
        return None
    return value[7:] if value.startswith("file://") else value


def _codex_call(session, call, command, started_at, duration_ms, code, cwd, model) -> Call | None:
    line = commands.line_of({"command": command})
    if line is None or started_at is None:
        return None
    return Call("codex", session, call, line, started_at, duration_ms, code, None if code is None else False,
                False, commands.directory(line, cwd), model)


# Gemini CLI: ~/.gemini/tmp/<project>/chats/session-*.jsonl from 0.39 on (a header line, then
# messages, each written again as it grows, and `$set` lines); up to 0.38, session-*.json: one
# JSON document {sessionId, projectHash, startTime, lastUpdated, messages: [...], ...}, written
# whole (JSON.stringify(conversation, null, 2)) at every change.

def read_gemini(f, sessions: Sessions) -> Iterator[Call | None]:
    session: str | None = None
    done: set = set()
    counted: set = set()
    for record in _gemini_records(f):
        if record is None:
            yield None
            continue
        if isinstance(record.get("sessionId"), str):
            session = record["sessionId"]
            sessions.seen("gemini", session, seconds(record.get("startTime")))
            messages = record.get("messages")  # a whole chat on one line (a legacy document)
        else:
            messages = record["$set"].get("messages") if isinstance(record.get("$set"), dict) else [record]
        if not session or not isinstance(messages, list):
            continue
        for message in messages:
            if not isinstance(message, dict):
                continue
            at = seconds(message.get("timestamp"))
            sessions.seen("gemini", session, at)
            if message.get("type") == "user" and message.get("id") not in counted and _says(message.get("content")):
                counted.add(message.get("id"))
                sessions.seen("gemini", session, None, turn=True)
            if message.get("type") != "gemini":
                continue
            tokens = message.get("tokens")
            key = ("tokens", message.get("id"))
            if isinstance(tokens, dict) and key not in counted:
                counted.add(key)
                cached = _int(tokens.get("cached"))
                sessions.tokens("gemini", session, message.get("model"), input=_int(tokens.get("input")) - cached,
                                output=_int(tokens.get("output")) + _int(tokens.get("thoughts")), cache_read=cached)
            for call in message.get("toolCalls") or ():
                if isinstance(call, dict) and call.get("result") and isinstance(call.get("id"), str) \
                        and call["id"] not in done:
                    done.add(call["id"])
                    sessions.seen("gemini", session, None, tool_calls=1)
                    if call.get("name") == "run_shell_command":
                        yield _gemini_call(session, call, at, message.get("model"))


def _gemini_records(f) -> Iterator[dict | None]:
    """The records of a Gemini chat: its JSONL lines, or, for a legacy document (its first
    line is a lone `{`, as JSON.stringify indents it), its header without the messages, then
    each message as a record of its own."""
    first = f.readline()
    f.seek(0)
    return _document(f) if first.strip() == b"{" else _records(f)


_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()


def _document(f) -> Iterator[dict | None]:
    """A legacy Gemini chat read one message at a time (a long session's document runs to many
    megabytes: it is never held whole). A document cut short or damaged yields the messages
    before the damage, then None. Messages met before the sessionId (never, as Gemini writes
    it) are held and handed over with the header at the end."""
    text = _Text(f)
    header: dict = {}
    sent = False
    try:
        if not text.take("{"):
            raise ValueError("not an object")
        while not text.take("}"):
            key = text.value()
            if not isinstance(key, str) or not text.take(":"):
                raise ValueError("not a member")
            if key != "messages" or not text.take("["):
                header[key] = text.value()
            else:
                while not text.take("]"):
                    message = text.value()
                    if "sessionId" not in header:
                        header.setdefault("messages", []).append(message)
                    else:
                        if not sent:
                            sent = True
                            yield header
                        yield message if isinstance(message, dict) else None
                    text.take(",")
            text.take(",")
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        yield None
        return
    if not sent:
        yield header


class _Text:
    """A UTF-8 file decoded a chunk at a time for JSONDecoder.raw_decode, one value at a time."""

    def __init__(self, f):
        self.f, self.buffer, self.at, self.end = f, "", 0, False
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def _more(self) -> bool:
        """Read at least as much again as is pending: a long message is decoded a few times,
        not once per chunk."""
        if self.end:
            return False
        chunk = self.f.read(max(_CHUNK, len(self.buffer) - self.at))
        self.end = not chunk
        self.buffer = self.buffer[self.at:] + self.decoder.decode(chunk, final=self.end)
        self.at = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end), left unread."""
        while True:
            while self.at < len(self.buffer) and self.buffer[self.at] in " \t\r\n":
                self.at += 1
            if self.at < len(self.buffer) or not self._more():
                return self.buffer[self.at:self.at + 1]

    def take(self, char: str) -> bool:
        if self.peek() != char:
            return False
        self.at += 1
        return True

    def value(self):
        """The next JSON value. One that ends where the text read so far does (a number cut
        by the chunk) or does not decode is decoded again with more text."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.at)
                if end < len(self.buffer) or self.end:
                    self.at = end
                    return value
            except ValueError:
                if self.end:
                    raise
            if not self._more():
                raise ValueError("cut short")


def _says(content) -> bool:
    if isinstance(content, str):
        return bool(content)
    return isinstance(content, list) and any(isinstance(part, dict) and "text" in part
                                             and not part["text"].startswith("<session_context>") for part in content)


def _gemini_call(session: str, call: dict, asked_at: float | None, model) -> Call | None:
    args = _dict(call.get("args"))
    line = commands.line_of(args)
    if line is None or asked_at is None:
        return None
    output = None
    for part in call["result"] if isinstance(call["result"], list) else ():
        response = part.get("functionResponse", {}).get("response") if isinstance(part, dict) else None
        if isinstance(response, dict) and isinstance(response.get("output"), str):
            output = response["output"]
    payload = {"tool_input": args, "timestamp": call.get("timestamp"),
               "tool_response": {"llmContent": output, "returnDisplay": call.get("resultDisplay")}}
    outcome = gemini.outcome(payload)
    ended_at = seconds(call.get("timestamp"))
    duration = None if outcome.background else _ms(asked_at, ended_at)
    cwd = _text(args.get("dir_path"), "/")
    return Call("gemini", session, call["id"], line, asked_at, duration, outcome.exit_code, outcome.timed_out,
                outcome.background, commands.directory(line, cwd), model if isinstance(model, str) else None)


READERS = {"claude-code": read_claude_code, "codex": read_codex, "gemini": read_gemini}
"""Each agent's transcript reader: `READERS[agent](file, sessions)` yields its shell calls."""
