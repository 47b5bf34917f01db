"""Fixtures for the channel simulator's tests: no database, a real simulator on a free port, a notify receiver.

The merchant side is played by the channels' own SDKs (python-alipay-sdk, wechatpayv3's utils), the way
GridCare's providers use them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from alipay import AliPay
from wechatpayv3 import utils as wxutils

from gridcare.channelsim.testing import start


class Clock:
    """The simulator's clock: real time plus an offset a test may move."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def at(self, epoch: float) -> None:
        self.offset = epoch - time.time()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sim(keys_dir, tmp_path, clock):
    with start(keys_dir, db_path=tmp_path / "sim.sqlite3", clock=clock) as running:
        yield running


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A merchant's notify endpoint: records every POST and answers from ``answers`` (then the default)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: deque = field(default_factory=deque)
    default: tuple[int, bytes] = (200, b"success")
    event: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.event:
            self.event.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        assert len(self.received) >= count, f"expected {count} notifications, got {len(self.received)}"
        return self.received


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = state.answers.popleft() if state.answers else state.default
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            with state.event:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                state.event.notify_all()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


# --- the merchant's side -------------------------------------------------------------------------------------


class AlipayMerchant:
    """python-alipay-sdk signing requests and verifying answers, HTTP by requests."""

    def __init__(self, sim, app_private_pem: str | None = None) -> None:
        keys = sim.keys
        self.sim = sim
        self.sdk = AliPay(
            keys.alipay_app_id,
            app_private_key_string=app_private_pem or keys.alipay_app_private_pem,
            alipay_public_key_string=keys.alipay_public_pem,
            sign_type="RSA2",
        )

    def signed(self, method: str, biz: dict | None = None, **extra) -> str:
        return self.sdk.sign_data(self.sdk.build_body(method, biz or {}, **extra))

    def raw(self, method: str, biz: dict | None = None, **extra) -> requests.Response:
        return requests.post(
            self.sim.url + "/alipay/gateway.do",
            data=self.signed(method, biz, **extra),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            timeout=10,
        )

    def call(self, method: str, biz: dict | None = None, **extra) -> dict:
        """The verified response object (the SDK raises if the signature does not hold)."""
        answer = self.raw(method, biz, **extra)
        assert answer.status_code == 200
        return self.sdk._verify_and_return_sync_response(answer.text, method.replace(".", "_") + "_response")


class WechatMerchant:
    """wechatpayv3's utils signing requests (build_authorization) and verifying answers (rsa_verify)."""

    def __init__(self, sim) -> None:
        self.sim = sim
        keys = sim.keys
        self.private_key = wxutils.load_private_key(keys.wechat_merchant_private_pem)
        self.serial = keys.wechat_cert_serial

    def request(self, method: str, path: str, body: dict | None = None, *, serial: str | None = None,
                private_key=None) -> requests.Response:  # fmt: skip
        data = json.dumps(body) if body is not None else ""
        authorization = wxutils.build_authorization(
            path,
            method,
            self.sim.keys.wechat_mchid,
            serial or self.serial,
            private_key or self.private_key,
            data=data,
        )
        headers = {"Authorization": authorization, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return requests.request(
            method, self.sim.url + "/wechat" + path, data=data.encode() or None, headers=headers, timeout=10
        )

    def verify(self, answer: requests.Response) -> bool:
        """The answer's signature, with the platform certificate its Wechatpay-Serial names."""
        cert = self.sim.keys.platform(answer.headers["Wechatpay-Serial"])
        assert cert is not None, "the answer names an unknown platform serial"
        public_key = wxutils.load_certificate(cert.cert_pem).public_key()
        return wxutils.rsa_verify(
            answer.headers["Wechatpay-Timestamp"],
            answer.headers["Wechatpay-Nonce"],
            answer.text,
            answer.headers["Wechatpay-Signature"],
            public_key,
        )

    def decrypt(self, resource: dict) -> dict:
        plaintext = wxutils.aes_decrypt(
            resource["nonce"],
            resource["ciphertext"],
            resource["associated_data"],
            self.sim.keys.wechat_api_v3_key,
        )
        assert plaintext is not None, "the resource does not decrypt with the API v3 key"
        return json.loads(plaintext)


@pytest.fixture
def alipay_merchant(sim):
    return AlipayMerchant(sim)


@pytest.fixture
def wechat_merchant(sim):
    return WechatMerchant(sim)
