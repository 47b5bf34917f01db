"""`gridcare channel_simulator [--port 8010]`: the local Alipay / WeChat Pay simulator beside GridCare (what
`make run` starts), with the sandbox keys under var/sandbox/ — then, once it answers, WeChat Pay's platform
certificates fetched from it into GridCare (the scheduled job's own function), so the demo's WeChat answers and
notifications verify from the first minute. Development only: settings refuse the simulator with
GRIDCARE_DEBUG=0."""

import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gridcare.channelsim import __main__ as sim_main


class Command(BaseCommand):
    help = "Run the local Alipay / WeChat Pay channel simulator (development), and fetch its WeChat certificates."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8010)
        parser.add_argument("--retry-scale", type=float, default=0.05, help="notification retry intervals ×")

    def handle(self, *args, **opts):
        if not settings.DEBUG:
            raise CommandError("the channel simulator is for development only (GRIDCARE_DEBUG=1)")
        keys = settings.VAR_DIR / "sandbox"
        threading.Thread(target=self._fetch_certificates, daemon=True).start()
        sim_main.main(
            [
                "--host",
                opts["host"],
                "--port",
                str(opts["port"]),
                "--keys",
                str(keys),
                "--retry-scale",
                str(opts["retry_scale"]),
                "--quiet",
            ]
        )

    def _fetch_certificates(self) -> None:
        from gridcare.payments.channels import wechat_keys

        if not settings.GRIDCARE["PAY"].get("SIMULATOR_URL"):
            self.stderr.write("GRIDCARE_CHANNEL_SIMULATOR is not set: GridCare does not use this simulator")
            return
        last: Exception | None = None
        for _attempt in range(30):
            time.sleep(1)
            try:
                summary = wechat_keys.refresh_platform_certificates()
            except Exception as exc:  # not up yet: try again, then say why
                last = exc
                continue
            self.stdout.write(f"WeChat platform certificates from the simulator: {summary.as_dict()}")
            return
        self.stderr.write(f"WeChat platform certificates not fetched from the simulator: {last}")
