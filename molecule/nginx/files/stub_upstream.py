"""Stub app instance for the nginx scenario: HTTP/1.1 keep-alive, counts the connections it accepts.

GET /__stats answers {"connections": accepted connections, "requests": requests served}
(itself not counted); on port 8002, /flaky closes the connection without an answer and /busy
answers 503 with Retry-After (both after reading the request); /slow answers after
SLOW_SECONDS; any other request answers a JSON echo of what it received, padded past gzip's
minimum length.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {"connections": 0, "requests": 0}
FLAKY_PORT = 8002
SLOW_SECONDS = 3


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with LOCK:
            STATS["connections"] += 1

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: thousands of requests would flood the journal."""

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path == "/__stats":
            with LOCK:
                body = json.dumps(STATS).encode()
        else:
            with LOCK:
                STATS["requests"] += 1
            echo = {
                "port": self.server.server_address[1],
                "method": self.command,
                "path": self.path,
                "version": self.request_version,
                "headers": dict(self.headers.items()),
                "padding": "x" * 2048,
            }
            body = json.dumps(echo).encode()
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        failing = self.server.server_address[1] == FLAKY_PORT
        if failing and self.path == "/flaky":
            self.close_connection = True
            return
        busy = failing and self.path == "/busy"
        self.send_response(503 if busy else 200)
        if busy:
            self.send_header("Retry-After", "2")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
