"""Real servers on 127.0.0.1 for integration tests: an SMTP server (aiosmtpd) and an HTTP receiver."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)


@dataclass
class HttpReceiver:
    url: str
    requests: list[dict] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # status codes to answer before succeeding


@contextlib.contextmanager
def serve_smtp() -> Iterator[SmtpServer]:
    """A real aiosmtpd SMTP server on 127.0.0.1 collecting every message it receives."""
    from aiosmtpd.controller import Controller

    server = SmtpServer("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            server.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    controller = Controller(Handler(), hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@contextlib.contextmanager
def serve_http() -> Iterator[HttpReceiver]:
    """A real HTTP server on 127.0.0.1 recording POSTed bodies (JSON decoded when possible)."""
    port = free_port()
    receiver = HttpReceiver(f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.fail_next:
                self.send_response(receiver.fail_next.pop(0))
                self.end_headers()
                return
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            receiver.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body, "json": payload}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with serve_smtp() as server:
        yield server


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    with serve_http() as receiver:
        yield receiver
