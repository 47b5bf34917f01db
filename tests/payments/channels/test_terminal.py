"""Self-service terminal API: Ed25519-signed requests, signed here exactly as a terminal signs them.

Terminal T001 belongs to bureau A (城东供电局) and serves its subtree: 张三's 3100000001 (station A1) owes one
bill of 80.00 due far ahead; 李四's 3200000001 (bureau B) is outside it.
"""

import base64
import io
import json
import logging
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.permissions import Role
from gridcare.payments.channels import terminals
from gridcare.payments.models import LedgerEntry, Payment, Terminal, TerminalNonce
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
PAY_URL = "/api/v1/terminal/payments"


def account_url(number: str) -> str:
    return f"/api/v1/terminal/accounts/{number}"


@pytest.fixture
def keypair():
    return terminals.generate_key_pair()


@pytest.fixture
def terminal(world, keypair):
    return terminals.terminal_add(
        actor=Actor(), code="T001", unit=world.bureau_a, public_key=keypair[1], name="城东营业厅自助机"
    )


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20), issued_on=date(2026, 10, 5))


def signed(
    private_pem: str,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    code="T001",
    ts=None,
    nonce=None,
    send_body: bytes | None = None,
) -> dict:
    ts = str(int((ts or timezone.now()).timestamp()))
    nonce = nonce or secrets.token_hex(12)
    return {
        "X-Terminal-Id": code,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": terminals.sign(private_pem, method, path, ts, nonce, body),
    }


def get(client, private_pem, number="3100000001", **kw):
    path = account_url(number)
    return client.get(path, headers=signed(private_pem, "GET", path, **kw))


def post(client, private_pem, payload: dict, *, send: dict | None = None, **kw):
    body = json.dumps(payload).encode()
    sent = json.dumps(send).encode() if send is not None else body
    return client.post(
        PAY_URL,
        sent,
        content_type="application/json",
        headers=signed(private_pem, "POST", PAY_URL, body, **kw),
    )


def nothing_written():
    return not Payment.objects.exists() and not LedgerEntry.objects.filter(kind="payment").exists()


def test_query_shows_masked_account_and_amount_due(world, debt, terminal, keypair, client):
    resp = get(client, keypair[0])
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["name"] == "张*" and body["address"].endswith("****") and "18号" not in body["address"]
    assert (body["supply_unit"], body["amount_due"]) == ("东关供电所", "80.00")
    # Outside the terminal's units, or unknown: the same 404
    assert get(client, keypair[0], "3200000001").status_code == 404
    assert get(client, keypair[0], "3999999999").status_code == 404


def test_payment_recorded_once_with_the_same_answer(world, debt, terminal, keypair, client):
    payload = {"account_number": "3100000001", "amount": "100.00", "terminal_txn_id": "TX-0001"}
    first = post(client, keypair[0], payload)
    assert first.status_code == 200, first.content
    again = post(client, keypair[0], payload)  # the terminal retries (new nonce, same transaction)
    assert again.status_code == 200 and again.json() == first.json()
    p = Payment.objects.get()
    assert (p.channel, p.channel_txn_id, p.amount) == ("terminal", "T001:TX-0001", D("100.00"))
    assert first.json()["payment_id"] == p.pk and first.json()["amount"] == "100.00"
    # 100.00 paid on a bill of 80.00: 20.00 left as credit
    assert p.unallocated == D("20.00")
    assert get(client, keypair[0]).json()["amount_due"] == "0.00"
    # The same terminal transaction id with another amount is refused
    other = post(client, keypair[0], dict(payload, amount="99.00"))
    assert other.status_code == 422 and Payment.objects.count() == 1


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-3"}, "amount"),
        ({"amount": "1e3"}, "amount"),
        ({"account_number": "3200000001"}, "account_number"),
        ({"account_number": "3999999999"}, "account_number"),
        ({"terminal_txn_id": "bad id!"}, "terminal_txn_id"),
    ],
)
def test_bad_payments_refused(world, debt, terminal, keypair, client, payload, field):
    body = {"account_number": "3100000001", "amount": "10.00", "terminal_txn_id": "TX-9", **payload}
    resp = post(client, keypair[0], body)
    assert resp.status_code == 422 and field in [d["field"] for d in resp.json()["detail"]]
    assert nothing_written()


def test_refused_requests_write_nothing_and_are_logged(world, debt, terminal, keypair, client, caplog):
    payload = {"account_number": "3100000001", "amount": "50.00", "terminal_txn_id": "TX-1"}
    wrong_key = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    caplog.set_level(logging.WARNING, logger="gridcare.payments")
    cases = {
        "tampered body": post(client, keypair[0], payload, send=dict(payload, amount="5000.00")),
        "wrong key": post(client, wrong_key, payload),
        "stale timestamp": post(
            client, keypair[0], payload, ts=timezone.now() - timedelta(minutes=5, seconds=30)
        ),
        "future timestamp": post(client, keypair[0], payload, ts=timezone.now() + timedelta(minutes=6)),
        "unknown terminal": post(client, keypair[0], payload, code="T999"),
    }
    assert {k: r.status_code for k, r in cases.items()} == dict.fromkeys(cases, 401)
    assert nothing_written() and not TerminalNonce.objects.exists()
    no_headers = client.post(PAY_URL, json.dumps(payload), content_type="application/json")
    assert no_headers.status_code == 401
    assert caplog.text.count("terminal request refused") == len(cases) + 1
    # A disabled terminal is refused too
    Terminal.objects.filter(pk=terminal.pk).update(enabled=False)
    assert post(client, keypair[0], payload).status_code == 401 and nothing_written()


def test_replayed_nonce_is_refused(world, debt, terminal, keypair, client):
    payload = {"account_number": "3100000001", "amount": "50.00", "terminal_txn_id": "TX-1"}
    body = json.dumps(payload).encode()
    headers = signed(keypair[0], "POST", PAY_URL, body, nonce="nonce-0001")
    assert client.post(PAY_URL, body, content_type="application/json", headers=headers).status_code == 200
    replay = client.post(PAY_URL, body, content_type="application/json", headers=headers)
    assert replay.status_code == 401
    assert Payment.objects.count() == 1 and TerminalNonce.objects.count() == 1
    # A replayed query (GET) is refused the same way
    h = signed(keypair[0], "GET", account_url("3100000001"), nonce="nonce-0002")
    assert client.get(account_url("3100000001"), headers=h).status_code == 200
    assert client.get(account_url("3100000001"), headers=h).status_code == 401


def test_signature_window_with_an_injected_clock(world, terminal, keypair):
    now = timezone.make_aware(datetime(2026, 11, 24, 10, 0))  # noqa: DTZ001
    path = account_url("3100000001")

    def check(ts, nonce):
        return terminals.authenticate(
            headers=signed(keypair[0], "GET", path, ts=ts, nonce=nonce),
            method="GET",
            path=path,
            body=b"",
            now=now,
        )

    assert check(now - timedelta(minutes=5), "n-000001") == terminal  # exactly 5 minutes: accepted
    assert check(now + timedelta(minutes=5), "n-000002") == terminal
    with pytest.raises(terminals.TerminalAuthError):
        check(now - timedelta(minutes=5, seconds=1), "n-000003")
    with pytest.raises(terminals.TerminalAuthError):
        check(now, "n-000001")  # the nonce was used within the window
    # Bad base64 and a signature of another message
    h = signed(keypair[0], "GET", path, ts=now, nonce="n-000004")
    for sig in ("%%%", base64.b64encode(b"x" * 64).decode()):
        with pytest.raises(terminals.TerminalAuthError):
            terminals.authenticate(
                headers=dict(h, **{"X-Signature": sig}), method="GET", path=path, body=b"", now=now
            )


def test_terminal_totals_on_the_daily_sheet(world, debt, terminal, keypair, client, login):
    for i, amount in enumerate(["30.00", "12.50"]):
        post(
            client,
            keypair[0],
            {"account_number": "3100000001", "amount": amount, "terminal_txn_id": f"TX-{i}"},
        )
    sup = UserFactory(username="a_sup", role=Role.MANAGER, unit=world.bureau_a)
    sheet = login(sup).get(f"/api/v1/shifts/daily-sheet?unit_id={world.bureau_a.pk}").json()
    # 30.00 + 12.50 = 42.50 in two payments
    assert sheet["terminals"] == [{"code": "T001", "payments": 2, "amount": "42.50"}]
    assert sheet["totals"]["terminals"] == "42.50" and sheet["totals"]["net"] == "42.50"
    page = login(sup).get("/payments/shifts/daily/").content.decode()
    assert 'data-testid="sheet-terminal"' in page and "42.50" in page
    # Bureau B's sheet does not show bureau A's terminal
    b_sup = UserFactory(username="b_sup", role=Role.MANAGER, unit=world.bureau_b)
    assert login(b_sup).get("/api/v1/shifts/daily-sheet").json()["terminals"] == []


def test_terminal_add_command(world, tmp_path):
    out = io.StringIO()
    call_command("terminal_add", code="T002", unit="0101", name="大厅", stdout=out)
    text = out.getvalue()
    assert "T002" in text and "BEGIN PRIVATE KEY" in text
    private = text[text.index("-----BEGIN PRIVATE KEY-----") :]
    t = Terminal.objects.get(code="T002")
    assert t.unit == world.bureau_a and "PRIVATE" not in t.public_key
    # the printed private key signs requests the stored public key verifies
    now = timezone.now()
    h = signed(private, "GET", "/x", code="T002", ts=now)
    assert terminals.authenticate(headers=h, method="GET", path="/x", body=b"", now=now) == t
    # With a public key file
    _priv, pub = terminals.generate_key_pair()
    pem = tmp_path / "t3.pem"
    pem.write_text(pub)
    out = io.StringIO()
    call_command("terminal_add", code="T003", unit="0102", public_key=str(pem), stdout=out)
    assert (
        "PRIVATE" not in out.getvalue()
        and Terminal.objects.get(code="T003").public_key.strip() == pub.strip()
    )
    # Bad input
    for kwargs in (
        {"code": "T002", "unit": "0101"},
        {"code": "T004", "unit": "9999"},
        {"code": "T:5", "unit": "0101"},
    ):
        with pytest.raises(CommandError):
            call_command("terminal_add", stdout=io.StringIO(), **kwargs)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(CommandError):
        call_command("terminal_add", code="T006", unit="0101", public_key=str(bad), stdout=io.StringIO())
    assert Terminal.objects.count() == 2


def test_rsa_public_key_is_refused(world):
    from cryptography.hazmat.primitives.asymmetric import rsa

    pub = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValidationError) as exc:
        terminals.terminal_add(actor=Actor(), code="T010", unit=world.bureau_a, public_key=pub)
    assert "public_key" in exc.value.message_dict and not Terminal.objects.exists()


def test_staff_sessions_do_not_reach_the_terminal_api(world, debt, terminal, login):
    c = login(world.admin)
    assert c.get(account_url("3100000001")).status_code == 401
    assert (
        c.post(
            PAY_URL,
            {"account_number": "3100000001", "amount": "1.00", "terminal_txn_id": "X"},
            content_type="application/json",
        ).status_code
        == 401
    )
    assert nothing_written()
