"""Run a simulator inside a test: ``start(keys_dir)`` serves it on a free port in a background thread.

    with start(tmp_path / "sandbox") as sim:
        requests.post(sim.url + "/alipay/gateway.do", data=...)
        sim.app.deliver_pending()

Retries are scaled down (``retry_scale=0.001``: WeChat's 15 s become 15 ms) and WeChat refunds settle after
``refund_delay`` seconds (0.05 by default here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .app import ChannelSimulator
from .keys import SandboxKeys
from .server import ThreadingWSGIServer, serve


@dataclass
class Running:
    """A simulator serving at ``url``; ``stop()`` (or leaving the ``with`` block) shuts it down."""

    url: str
    app: ChannelSimulator
    server: ThreadingWSGIServer
    thread: threading.Thread

    @property
    def keys(self) -> SandboxKeys:
        return self.app.keys  # after a rotation, the reloaded keys

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.app.close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    keys_dir: Path, retry_scale: float = 0.001, *, refund_delay: float = 0.05, **options: Any
) -> Running:
    """A simulator on 127.0.0.1 and a free port, with its delivery thread; ``options`` go to the app."""
    app = ChannelSimulator(keys_dir, retry_scale=retry_scale, refund_delay=refund_delay, **options)
    server = serve(app, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Running(url=f"http://127.0.0.1:{server.server_address[1]}", app=app, server=server, thread=thread)


@contextmanager
def simulator(keys_dir: Path, retry_scale: float = 0.001, **options: Any) -> Iterator[Running]:
    running = start(keys_dir, retry_scale, **options)
    try:
        yield running
    finally:
        running.stop()
