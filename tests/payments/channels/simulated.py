"""GridCare against the channel simulator (`gridcare.channelsim`): the real adapters, the real wire, the real
signatures, with the simulator standing in for Alipay and WeChat Pay (the outer edge we cannot reach here).

`simulated` starts a simulator on a free port with its own sandbox keys, configures both channels from them
(`channelsim.keys.settings_overlay`, as `make run` does) and points the notify URLs at `live_server`, so the
simulator's notifications come over HTTP to GridCare's endpoints. WeChat's platform certificates are fetched
from the simulator's /v3/certificates by the same function the scheduled job runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from gridcare.channelsim.keys import settings_overlay
from gridcare.channelsim.testing import Running, start
from gridcare.payments.channels import wechat_keys


@dataclass
class Simulated:
    sim: Running
    live_url: str

    def pay(self, channel: str, order_no: str) -> dict:
        r = requests.post(f"{self.sim.url}/_sim/trades/{channel}/{order_no}/pay", timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def refund(self, channel: str, order_no: str, amount: str | None = None) -> dict:
        body = {"amount": amount} if amount else {}
        r = requests.post(f"{self.sim.url}/_sim/trades/{channel}/{order_no}/refund", json=body, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def trade(self, channel: str, order_no: str) -> dict:
        r = requests.get(f"{self.sim.url}/_sim/trades/{channel}/{order_no}", timeout=5)
        return r.json() if r.status_code == 200 else {}

    def mode(self, mode: str) -> None:
        assert requests.post(f"{self.sim.url}/_sim/mode", json={"mode": mode}, timeout=5).status_code == 200

    def deliver(self) -> None:
        self.sim.app.deliver_pending()

    def requests_to(self, path: str) -> list[dict]:
        return requests.get(f"{self.sim.url}/_sim/requests", params={"path": path}, timeout=5).json()[
            "requests"
        ]

    def notifications(self) -> list[dict]:
        return requests.get(f"{self.sim.url}/_sim/notifications", timeout=5).json()["notifications"]


@pytest.fixture
def simulated(settings, tmp_path, live_server):
    with start(tmp_path / "sandbox", db_path=tmp_path / "sim.sqlite3") as sim:
        overlay = settings_overlay(tmp_path / "sandbox", sim.url)
        settings.GRIDCARE = {
            **settings.GRIDCARE,
            "ALIPAY": {**settings.GRIDCARE["ALIPAY"], **overlay["ALIPAY"]},
            "WECHAT": {
                **settings.GRIDCARE["WECHAT"],
                **overlay["WECHAT"],
                "PLATFORM_PUBLIC_KEY": "",
                "PLATFORM_SERIAL": "",
            },
            "PAY": {**settings.GRIDCARE["PAY"], "NOTIFY_BASE_URL": live_server.url, "SIMULATOR_URL": sim.url},
        }
        wechat_keys.cache_clear()
        wechat_keys.refresh_platform_certificates()
        yield Simulated(sim, live_server.url)
        wechat_keys.cache_clear()
