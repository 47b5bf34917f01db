"""``python -m gridcare.channelsim --host 127.0.0.1 --port 8010 --keys var/sandbox [--retry-scale 1.0]``.

Makes the sandbox keys if missing, serves the simulator until SIGINT or SIGTERM, and prints its URL.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .app import ChannelSimulator
from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridcare.channelsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--keys", type=Path, default=Path("var/sandbox"), help="sandbox keys directory")
    parser.add_argument("--db", type=Path, default=None, help="SQLite state (default: <keys>/sim.sqlite3)")
    parser.add_argument(
        "--retry-scale", type=float, default=1.0, help="multiplies the notification retry intervals"
    )
    parser.add_argument(
        "--refund-delay", type=float, default=3.0, help="seconds a WeChat refund stays PROCESSING"
    )
    parser.add_argument(
        "--sign-serial", default=None, help="the WeChat platform serial that signs (default newest)"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s channelsim %(message)s")

    app = ChannelSimulator(
        args.keys,
        db_path=args.db,
        retry_scale=args.retry_scale,
        refund_delay=args.refund_delay,
        sign_serial=args.sign_serial,
    )
    server = serve(app, args.host, args.port, quiet=args.quiet)

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return, so it cannot run in serve_forever's own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"channel simulator on http://{host}:{port}/ (keys {args.keys})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
