"""A loopback HTTP server speaking the Anthropic Messages and OpenAI chat-completions wire formats (JSON and SSE),
with scripted faults: status codes with Retry-After, slow responses, cut-off streams, malformed JSON, refusals,
empty answers. The real SDKs are pointed at it with base_url."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    kind: str = "text"  # text | status | slow | cutoff | malformed | refusal | empty
    text: str = ""
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    input_tokens: int = 11
    output_tokens: int = 7


class LoopbackLLM:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict] = []
        self.responder: Callable[[dict], Reply] | None = None  # answers by request, for concurrent callers
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if server.responder is not None:
                    reply = server.responder(body)
                else:
                    reply = server.replies.pop(0) if server.replies else Reply(text="(no scripted reply)")
                anthropic = self.path.endswith("/messages")
                server._answer(self, reply, anthropic, body.get("stream", False))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ wire formats
    def _answer(self, h: BaseHTTPRequestHandler, r: Reply, anthropic: bool, stream: bool) -> None:
        if r.kind == "status":
            payload = json.dumps({"type": "error", "error": {"type": "rate_limit_error" if r.status == 429 else "api_error", "message": r.text or f"scripted {r.status}"}}).encode()
            h.send_response(r.status)
            for k, v in r.headers.items():
                h.send_header(k, v)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if r.kind == "slow":
            time.sleep(r.delay)
        stop = "refusal" if r.kind == "refusal" and anthropic else "content_filter" if r.kind == "refusal" else ("end_turn" if anthropic else "stop")
        text = "" if r.kind in ("empty", "refusal") else r.text
        h.send_response(200)
        h.send_header("content-type", "text/event-stream" if stream else "application/json")
        h.send_header("connection", "close")
        if not stream:
            body = json.dumps(self._full(anthropic, text, stop, r)).encode()
            h.send_header("content-length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        h.end_headers()
        events = self._anthropic_events(text, stop, r) if anthropic else self._openai_events(text, stop, r)
        for i, event in enumerate(events):
            if r.kind == "cutoff" and i == len(events) // 2:
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(2)
                return
            if r.kind == "malformed" and i == 2:  # a text delta whose JSON is broken, event line kept
                event = "".join(line + "\n" for line in event.splitlines() if line.startswith("event:")) + "data: {not json at all\n\n"
            h.wfile.write(event.encode())
            h.wfile.flush()

    @staticmethod
    def _full(anthropic: bool, text: str, stop: str, r: Reply) -> dict:
        if anthropic:
            return {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [{"type": "text", "text": text}],
                    "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens}}
        return {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": stop}],
                "usage": {"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens, "total_tokens": r.input_tokens + r.output_tokens}}  # fmt: skip

    @staticmethod
    def _pieces(text: str) -> list[str]:
        return [text[i : i + 5] for i in range(0, len(text), 5)]

    def _anthropic_events(self, text: str, stop: str, r: Reply) -> list[str]:
        def ev(name, data):
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        out = [ev("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
                                                                        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": r.input_tokens, "output_tokens": 1}}}),
               ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]  # fmt: skip
        out += [ev("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}) for p in self._pieces(text)]
        out += [ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": r.output_tokens}}),
                ev("message_stop", {"type": "message_stop"})]  # fmt: skip
        return out

    def _openai_events(self, text: str, stop: str, r: Reply) -> list[str]:
        def chunk(delta, finish=None, usage=None, choices=True):
            data = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}  # fmt: skip
            if usage:
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        out = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": p}) for p in self._pieces(text)]
        out += [chunk({}, stop), chunk({}, usage={"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens, "total_tokens": r.input_tokens + r.output_tokens}, choices=False),
                "data: [DONE]\n\n"]  # fmt: skip
        return out


ROLE = re.compile(r"You are (\w+) in MoKA")
TASK = re.compile(r"[Tt]ask ([\w./-]+)[:\s(]")  # ids of foreign suites hold a / (paper/Add)


class MokaModel:
    """A responder that answers MoKA's roles as a model would, for any number of tasks at once: the Coder with
    `kernel(task_id, n)` (n counts that task's Coder answers from 0) in a fenced block, the Accelerator with a plan,
    the Debugger with advice; each after `latency` seconds. Requests numbered in `throttle` (from 0) get a 429 with
    Retry-After `retry_after` instead. Counts the requests in flight."""

    def __init__(self, kernel: Callable[[str, int], str], path: str, *, latency: float = 0.0, throttle: set[int] = frozenset(),
                 retry_after: float = 0.1) -> None:  # fmt: skip
        self.kernel, self.path, self.latency = kernel, path, latency
        self.throttle, self.retry_after = set(throttle), retry_after
        self.lock = threading.Lock()
        self.requests = 0
        self.in_flight = self.max_in_flight = 0
        self.coder_answers: dict[str, int] = {}

    def __call__(self, body: dict) -> Reply:
        with self.lock:
            number = self.requests
            self.requests += 1
            if number in self.throttle:
                return Reply("status", status=429, headers={"retry-after": str(self.retry_after)})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            return Reply(text=self.answer(body), input_tokens=1000, output_tokens=300)
        finally:
            with self.lock:
                self.in_flight -= 1

    def answer(self, body: dict) -> str:
        messages = body.get("messages") or []
        system = body.get("system") or (messages[0]["content"] if messages and messages[0]["role"] == "system" else "")
        prompt = messages[-1]["content"] if messages else ""
        role = ROLE.search(system if isinstance(system, str) else json.dumps(system))
        task = TASK.search(prompt)
        if role is None or task is None:
            return "(the loopback model could not tell the role or the task)"
        if role.group(1) == "accelerator":
            return '```json\n{"bottleneck": "one element per iteration", "method": "loop unrolling", "plan": "unroll by 4"}\n```'
        if role.group(1) == "debugger":
            return '```json\n{"local_error_suggestion": "fix the line", "crossfile_error_suggestion": "none"}\n```'
        with self.lock:
            n = self.coder_answers.get(task.group(1), 0)
            self.coder_answers[task.group(1)] = n + 1
        return f"```cpp\n// {self.path}\n{self.kernel(task.group(1), n)}\n```"
