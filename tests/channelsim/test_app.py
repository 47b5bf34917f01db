"""The simulator as a whole: modes, admin endpoints, the index page, persistence, the command line."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from gridcare.channelsim.testing import start

SRC = Path(__file__).resolve().parents[2] / "src"


def test_down_mode_answers_503_and_garbage_mode_answers_html(sim, alipay_merchant, wechat_merchant):
    def set_mode(mode):
        return requests.post(sim.url + "/_sim/mode", json={"mode": mode}, timeout=10)

    assert set_mode("down").json() == {"mode": "down"}
    assert alipay_merchant.raw("alipay.trade.query", {"out_trade_no": "GCMODE0001"}).status_code == 503
    assert wechat_merchant.request("GET", "/v3/certificates").status_code == 503
    assert requests.get(sim.url + "/_sim/health", timeout=10).json()["mode"] == "down"

    set_mode("garbage")
    ali = alipay_merchant.raw("alipay.trade.query", {"out_trade_no": "GCMODE0001"})
    wx = wechat_merchant.request("GET", "/v3/certificates")
    for answer in (ali, wx):
        assert answer.status_code == 200
        assert not answer.headers["Content-Type"].startswith("application/json")
        assert answer.text.lstrip().startswith("<")

    assert set_mode("bogus").status_code == 400
    set_mode("normal")
    assert alipay_merchant.call("alipay.trade.query", {"out_trade_no": "GCMODE0001"})["code"] == "40004"


def test_trades_survive_a_restart(keys_dir, tmp_path, clock):
    db = tmp_path / "state.sqlite3"
    with start(keys_dir, db_path=db, clock=clock) as first:
        from .conftest import AlipayMerchant

        AlipayMerchant(first).call(
            "alipay.trade.precreate",
            {"out_trade_no": "GCKEEP0001", "total_amount": "5.00", "subject": "电费"},
        )

    with start(keys_dir, db_path=db, clock=clock) as second:
        trades = requests.get(second.url + "/_sim/trades", timeout=10).json()["trades"]
        index = requests.get(second.url + "/", timeout=10).text

    assert [(t["channel"], t["out_trade_no"], t["total"]) for t in trades] == [("alipay", "GCKEEP0001", 500)]
    assert "GCKEEP0001" in index and "等待付款" in index and "/alipay/qr/" in index


def test_admin_pay_and_refund_refuse_what_they_cannot_do(sim):
    assert requests.post(sim.url + "/_sim/trades/wechat/NOSUCH0001/pay", timeout=10).status_code == 404
    assert (
        requests.post(sim.url + "/_sim/trades/alipay/NOSUCH0001/refund", json={}, timeout=10).status_code
        == 404
    )
    assert requests.get(sim.url + "/_sim/nothing", timeout=10).status_code == 404
    assert requests.get(sim.url + "/_sim/wechat/rotate", timeout=10).status_code == 405


def test_the_command_line_serves_and_stops_on_sigterm(tmp_path):
    env = os.environ | {"PYTHONPATH": str(SRC)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gridcare.channelsim", "--port", "0", "--keys", str(tmp_path / "keys"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("channel simulator on http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[3].rstrip("/")
        health = requests.get(url + "/_sim/health", timeout=10).json()
        assert health["ok"] is True and health["wechat_mchid"] == "1900000001"
        assert (tmp_path / "keys" / "ids.json").exists() and (tmp_path / "keys" / "sim.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0


def test_the_simulator_imports_neither_django_nor_django_backed_gridcare_modules():
    # gridcare/__init__.py loads the Celery app (and Celery some of Django); the simulator must not need more.
    script = (
        "import sys, types\n"
        f"package = types.ModuleType('gridcare'); package.__path__ = [{str(SRC / 'gridcare')!r}]\n"
        "sys.modules['gridcare'] = package\n"
        "import gridcare.channelsim.__main__, gridcare.channelsim.testing\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery')))\n"
        "print(sorted(m for m in sys.modules if m.startswith('gridcare.') and 'channelsim' not in m))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    django_modules, gridcare_modules = result.stdout.splitlines()
    assert django_modules == "[]"
    assert (
        gridcare_modules
        == "['gridcare.payments', 'gridcare.payments.channels', 'gridcare.payments.channels.signatures']"
    )
