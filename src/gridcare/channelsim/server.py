"""A threading WSGI server (stdlib ``wsgiref``) for the simulator, shared by ``__main__`` and ``testing``.

The request handler keeps the raw request target in ``environ["RAW_URI"]``: WeChat's signature covers the
path exactly as sent (percent-escapes included), which ``PATH_INFO`` has already decoded.
"""

from __future__ import annotations

import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class RequestHandler(WSGIRequestHandler):
    quiet = False

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        if not self.quiet:
            super().log_message(format, *args)


class QuietRequestHandler(RequestHandler):
    quiet = True


def serve(app: Any, host: str, port: int, *, quiet: bool = False) -> ThreadingWSGIServer:
    handler = QuietRequestHandler if quiet else RequestHandler
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=handler)
    assert isinstance(server, ThreadingWSGIServer)
    return server
