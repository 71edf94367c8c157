"""A tiny OpenAI-protocol server for fault-injection tests: `python fake_openai_server.py PORT MODE`.

MODE: ok (streams "Hello there [1]."), echo (streams "You asked: <the question> [1]." so concurrent
sessions can be told apart), 401, 404, 500, slow (sleeps before answering), cut (sends part of a
stream, then drops the connection), exit-on-start (dies at once, for supervisor tests).
It exists to produce failures a real server cannot be made to produce on demand; the tutor's real LLM
paths are tested against llama.cpp in test_llm_integration.py.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, MODE = int(sys.argv[1]), sys.argv[2]


def chunk(content=None, finish=None):
    delta = {"content": content} if content is not None else {}
    return {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/models"):
            return self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if MODE in ("401", "404", "500"):
            return self._json(int(MODE), {"error": {"message": f"fake {MODE}", "type": "fake"}})
        if MODE == "slow":
            time.sleep(30)
        words = ["Hello", " there", " [1]."]
        if MODE == "echo":
            last = json.loads(body)["messages"][-1]["content"]
            if "Last question: " in last:  # the follow-up rewrite: the question itself is the query
                words = [last.split("Last question: ", 1)[1].split("\n", 1)[0].strip()]
            else:
                question = last.split("Question: ", 1)[-1].split("\n", 1)[0].strip()
                words = ["You", " asked:", *[f" {w}" for w in question.split()], " [1]."]
            time.sleep(0.5)  # long enough for concurrent requests to overlap
        if not json.loads(body or b"{}").get("stream"):  # a plain (non-streamed) completion
            text = "".join(words)
            return self._json(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                 "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i, w in enumerate(words):
            self.wfile.write(f"data: {json.dumps(chunk(w))}\n\n".encode())
            self.wfile.flush()
            if MODE == "cut" and i == 1:
                self.wfile.write(b"data: {\"id\": \"x\", \"choi")
                self.wfile.flush()
                self.connection.shutdown(2)
                return
        self.wfile.write(f"data: {json.dumps(chunk(finish='stop'))}\n\n".encode())
        usage = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake", "choices": [],
                 "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


if __name__ == "__main__":
    if MODE == "exit-on-start":
        print("fake server: cannot load model", flush=True)
        sys.exit(3)
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
