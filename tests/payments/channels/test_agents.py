"""Collection agents (代收点, 电话银行): registration, the Ed25519-signed API, payments exactly once.

Requests are signed here with `cryptography` exactly as the documented scheme says (not with our own
helper): Ed25519 over METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nhex(SHA-256(body)), headers X-Agent-Id, X-Timestamp,
X-Nonce, X-Signature.

Collection point CP001 and phone bank PB001 belong to bureau A (城东供电局) and serve its subtree: 张三's
3100000001 (station A1) owes one bill of 80.00 due far ahead; 李四's 3200000001 (bureau B) is outside it.
"""

import base64
import hashlib
import io
import json
import logging
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.models import AuditEvent
from gridcare.payments.channels import agents, signed_requests
from gridcare.payments.models import AgentNonce, CollectionAgent, LedgerEntry, Payment, TerminalNonce
from tests.factories import make_account
from tests.payments.ledger.test_ledger import issued_bill

D = Decimal
BJ = ZoneInfo("Asia/Shanghai")
PAY_URL = "/api/v1/agent/payments"


def account_url(number: str) -> str:
    return f"/api/v1/agent/accounts/{number}"


class Key:
    """An agent's key pair, made with `cryptography` in the test."""

    def __init__(self):
        self.private = Ed25519PrivateKey.generate()
        self.public_pem = (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def headers(
        self, method: str, path: str, body: bytes = b"", *, code="CP001", ts=None, nonce=None
    ) -> dict:
        ts = str(int((ts or timezone.now()).timestamp()))
        nonce = nonce or secrets.token_hex(12)
        message = "\n".join([method, path, ts, nonce, hashlib.sha256(body).hexdigest()]).encode()
        return {
            "X-Agent-Id": code,
            "X-Timestamp": ts,
            "X-Nonce": nonce,
            "X-Signature": base64.b64encode(self.private.sign(message)).decode(),
        }


@pytest.fixture
def key():
    return Key()


@pytest.fixture
def cp(world, key):
    return agents.agent_add(
        actor=Actor(),
        code="CP001",
        name="东关邮政代收点",
        kind="collection_point",
        unit=world.bureau_a,
        public_key=key.public_pem,
    )


@pytest.fixture
def debt(world):
    return issued_bill(world.acct_a, "2026-09", "80.00", date(2099, 1, 20))


def get(client, key, number="3100000001", **kw):
    path = account_url(number)
    return client.get(path, headers=key.headers("GET", path, **kw))


def post(client, key, payload: dict, *, send: dict | None = None, **kw):
    body = json.dumps(payload).encode()
    sent = json.dumps(send).encode() if send is not None else body
    return client.post(
        PAY_URL, sent, content_type="application/json", headers=key.headers("POST", PAY_URL, body, **kw)
    )


def payment(**kw) -> dict:
    """A payment paid a minute ago (the API checks paid_at against the real clock it is signed with)."""
    at = timezone.localtime(timezone.now() - timedelta(minutes=1), BJ).replace(microsecond=0)
    return {
        "transaction_id": "TX-0001",
        "account_number": "3100000001",
        "amount": "100.00",
        "paid_at": at.isoformat(),
        **kw,
    }


def nothing_written():
    return not Payment.objects.exists() and not LedgerEntry.objects.filter(kind="payment").exists()


# ---------------------------------------------------------------- query


def test_query_shows_masked_account_and_amount_due(world, debt, cp, key, client):
    resp = get(client, key)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["name"] == "张*" and "18号" not in body["address"] and "张三" not in resp.content.decode()
    assert (body["supply_unit"], body["amount_due"], body["credit"]) == ("东关供电所", "80.00", "0.00")
    # Outside the agent's units, or unknown: the same 404
    other, unknown = get(client, key, "3200000001"), get(client, key, "3999999999")
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()


# ---------------------------------------------------------------- payments


def test_signed_payment_recorded_once_with_the_same_answer(world, debt, cp, key, client):
    sent = payment()
    first = post(client, key, sent)
    assert first.status_code == 200, first.content
    again = post(client, key, sent)  # the agent retries (new nonce, same transaction)
    assert again.status_code == 200 and again.json() == first.json()
    p = Payment.objects.get()
    assert (p.channel, p.channel_txn_id, p.amount, p.status) == (
        "collection_point",
        "CP001:TX-0001",
        D("100.00"),
        "posted",
    )
    assert p.paid_at == datetime.fromisoformat(sent["paid_at"])  # the agent's time of payment
    body = first.json()
    assert (body["payment_id"], body["channel"], body["agent"], body["transaction_id"], body["amount"]) == (
        p.pk,
        "collection_point",
        "CP001",
        "TX-0001",
        "100.00",
    )
    # 100.00 paid on a bill of 80.00: 20.00 left as credit, nothing due
    assert p.unallocated == D("20.00") and get(client, key).json()["amount_due"] == "0.00"
    # The same agent transaction id with another amount or account is refused, nothing more written
    make_account(world.cust_a, "3100000002", world.area_a)
    for changed in ({"amount": "99.00"}, {"account_number": "3100000002"}):
        resp = post(client, key, payment(**changed))
        assert resp.status_code == 422
    assert Payment.objects.count() == 1 and LedgerEntry.objects.filter(kind="payment").count() == 1
    assert AuditEvent.objects.filter(action="payment.record").count() == 1


def test_phone_bank_and_the_same_id_at_two_agents(world, debt, cp, key, client):
    pb_key = Key()
    agents.agent_add(
        actor=Actor(),
        code="PB001",
        name="农行电话银行",
        kind="phone_bank",
        unit=world.bureau_a,
        public_key=pb_key.public_pem,
    )
    a = post(client, key, payment(amount="30.00"))
    b = post(client, pb_key, payment(amount="30.00"), code="PB001")
    assert a.status_code == b.status_code == 200
    assert sorted(Payment.objects.values_list("channel", "channel_txn_id")) == [
        ("collection_point", "CP001:TX-0001"),
        ("phone_bank", "PB001:TX-0001"),
    ]
    # Each agent signs with its own key: the phone bank's id with the collection point's key is refused
    assert post(client, key, payment(transaction_id="X2"), code="PB001").status_code == 401
    assert Payment.objects.count() == 2


@pytest.mark.parametrize(
    "changes, fields",
    [
        ({"amount": "0"}, {"amount"}),
        ({"amount": "-3"}, {"amount"}),
        ({"amount": "1e3"}, {"amount"}),
        ({"amount": "12.345"}, {"amount"}),
        ({"account_number": "3200000001"}, {"account_number"}),  # bureau B: outside the agent's units
        ({"account_number": "3999999999"}, {"account_number"}),
        ({"transaction_id": "bad id!"}, {"transaction_id"}),
        ({"paid_at": "2026-13-01 10:00:00"}, {"paid_at"}),
        ({"paid_at": "yesterday"}, {"paid_at"}),
        ({"amount": "0", "transaction_id": "", "paid_at": ""}, {"amount", "transaction_id", "paid_at"}),
    ],
)
def test_bad_payments_refused_naming_the_field(world, debt, cp, key, client, changes, fields):
    resp = post(client, key, payment(**changes))
    assert resp.status_code == 422, resp.content
    assert {d["field"] for d in resp.json()["detail"]} == fields
    assert nothing_written()


def test_paid_at_limits_with_an_injected_clock(world, debt, cp):
    now = datetime(2026, 11, 24, 10, 0, tzinfo=BJ)

    def pay(txn, paid_at):
        return agents.agent_payment(
            agent=cp, transaction_id=txn, account_number="3100000001", amount="1.00", paid_at=paid_at, now=now
        )

    # Exactly 72 hours back and exactly 5 minutes ahead (the signature window): accepted
    assert pay("T1", "2026-11-21T10:00:00+08:00").created
    assert pay("T2", "2026-11-24 10:05:00").created  # no offset: Beijing time
    assert pay("T3", "2026-11-24T02:00:00Z").created  # 10:00 in Beijing
    for txn, at in (("T4", "2026-11-21T09:59:59+08:00"), ("T5", "2026-11-24T10:05:01+08:00")):
        with pytest.raises(ValidationError) as exc:
            pay(txn, at)
        assert list(exc.value.message_dict) == ["paid_at"]
    assert sorted(
        (t, timezone.localtime(at, BJ).strftime("%m-%d %H:%M"))
        for t, at in Payment.objects.values_list("channel_txn_id", "paid_at")
    ) == [("CP001:T1", "11-21 10:00"), ("CP001:T2", "11-24 10:05"), ("CP001:T3", "11-24 10:00")]


# ---------------------------------------------------------------- refusals


def test_refused_requests_write_nothing_and_are_logged(world, debt, cp, key, client, caplog):
    caplog.set_level(logging.WARNING, logger="gridcare.payments")
    sent = payment()
    cases = {
        "tampered body": post(client, key, sent, send=dict(sent, amount="5000.00")),
        "wrong key": post(client, Key(), sent),
        "stale timestamp": post(client, key, sent, ts=timezone.now() - timedelta(minutes=5, seconds=30)),
        "future timestamp": post(client, key, sent, ts=timezone.now() + timedelta(minutes=6)),
        "unknown agent": post(client, key, sent, code="CP999"),
        "short nonce": post(client, key, sent, nonce="abc"),
    }
    assert {k: r.status_code for k, r in cases.items()} == dict.fromkeys(cases, 401)
    assert cases["wrong key"].json() == {"detail": "代收机构签名验证失败"}
    no_headers = client.post(PAY_URL, json.dumps(sent), content_type="application/json")
    assert no_headers.status_code == 401
    assert caplog.text.count("agent request refused") == len(cases) + 1
    assert nothing_written() and not AgentNonce.objects.exists()
    # A disabled agent is refused too
    CollectionAgent.objects.filter(pk=cp.pk).update(enabled=False)
    assert post(client, key, sent).status_code == 401 and get(client, key).status_code == 401
    assert nothing_written() and not AgentNonce.objects.exists()


def test_replayed_nonce_is_refused(world, debt, cp, key, client):
    body = json.dumps(payment()).encode()
    headers = key.headers("POST", PAY_URL, body, nonce="nonce-0001")
    assert client.post(PAY_URL, body, content_type="application/json", headers=headers).status_code == 200
    # The same request again, and another payment sent under the same nonce: both refused
    replay = client.post(PAY_URL, body, content_type="application/json", headers=headers)
    other = json.dumps(payment(transaction_id="TX-0002")).encode()
    reused = client.post(
        PAY_URL,
        other,
        content_type="application/json",
        headers=key.headers("POST", PAY_URL, other, nonce="nonce-0001"),
    )
    assert replay.status_code == reused.status_code == 401
    assert Payment.objects.count() == 1 and AgentNonce.objects.count() == 1


def test_terminals_and_agents_do_not_cross(world, debt, cp, key, client, login):
    """An agent's code under the terminal's header (and the other way) is unknown; staff sessions get 401."""
    sent = payment()
    body = json.dumps(sent).encode()
    h = key.headers("POST", "/api/v1/terminal/payments", body)
    h["X-Terminal-Id"] = h.pop("X-Agent-Id")
    assert (
        client.post("/api/v1/terminal/payments", body, content_type="application/json", headers=h).status_code
        == 401
    )
    staff = login(world.admin)
    assert staff.get(account_url("3100000001")).status_code == 401
    assert staff.post(PAY_URL, sent, content_type="application/json").status_code == 401
    assert nothing_written() and not TerminalNonce.objects.exists() and not AgentNonce.objects.exists()


def test_signature_window_with_an_injected_clock(world, cp, key):
    now = datetime(2026, 11, 24, 10, 0, tzinfo=BJ)
    path = account_url("3100000001")

    def check(ts, nonce):
        return signed_requests.authenticate(
            agents.AGENTS,
            headers=key.headers("GET", path, ts=ts, nonce=nonce),
            method="GET",
            path=path,
            body=b"",
            now=now,
        )

    assert check(now - timedelta(minutes=5), "n-000001") == cp  # exactly 5 minutes: accepted
    assert check(now + timedelta(minutes=5), "n-000002") == cp
    for ts, nonce in ((now - timedelta(minutes=5, seconds=1), "n-000003"), (now, "n-000001")):
        with pytest.raises(signed_requests.SignedRequestRefused):
            check(ts, nonce)
    assert AgentNonce.objects.count() == 2


# ---------------------------------------------------------------- registration


def test_agent_add_refuses_bad_input_naming_each_field(world, cp, key):
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    cases = [
        ({"code": "CP001"}, {"code"}),  # taken
        ({"code": "CP:2"}, {"code"}),
        ({"name": " "}, {"name"}),
        ({"kind": "terminal"}, {"kind"}),
        ({"public_key": rsa_pem}, {"public_key"}),
        ({"public_key": "not a key", "kind": "bank", "code": ""}, {"public_key", "kind", "code"}),
    ]
    for changes, fields in cases:
        kw = {
            "code": "CP002",
            "name": "西关代收点",
            "kind": "collection_point",
            "public_key": Key().public_pem,
            **changes,
        }
        with pytest.raises(ValidationError) as exc:
            agents.agent_add(actor=Actor(), unit=world.bureau_a, **kw)
        assert set(exc.value.message_dict) == fields, changes
    assert list(CollectionAgent.objects.values_list("code", flat=True)) == ["CP001"]
    assert list(AuditEvent.objects.filter(action="agent.add").values_list("changes", flat=True)) == [
        {"code": "CP001", "name": "东关邮政代收点", "kind": "collection_point"}
    ]


def test_agent_add_command(world, tmp_path):
    out = io.StringIO()
    call_command("agent_add", code="PB001", name="农行电话银行", kind="phone_bank", unit="0101", stdout=out)
    text = out.getvalue()
    assert "PB001" in text and "电话银行" in text and "BEGIN PRIVATE KEY" in text
    private = serialization.load_pem_private_key(
        text[text.index("-----BEGIN PRIVATE KEY-----") :].encode(), None
    )
    a = CollectionAgent.objects.get(code="PB001")
    assert (a.unit, a.kind, a.enabled) == (
        world.bureau_a,
        "phone_bank",
        True,
    ) and "PRIVATE" not in a.public_key
    # The printed private key signs requests the stored public key verifies
    now = timezone.now()
    k = Key()
    k.private = private
    h = k.headers("GET", "/x", code="PB001", ts=now)
    assert (
        signed_requests.authenticate(agents.AGENTS, headers=h, method="GET", path="/x", body=b"", now=now)
        == a
    )
    # With a public key file: no private key printed
    pem = tmp_path / "cp.pem"
    pem.write_text(Key().public_pem)
    out = io.StringIO()
    call_command(
        "agent_add",
        code="CP002",
        name="西关代收点",
        kind="collection_point",
        unit="0102",
        public_key=str(pem),
        stdout=out,
    )
    assert (
        "PRIVATE" not in out.getvalue() and CollectionAgent.objects.get(code="CP002").unit == world.bureau_b
    )
    for kwargs in (
        {"code": "PB001", "kind": "phone_bank", "unit": "0101"},  # taken
        {"code": "PB002", "kind": "phone_bank", "unit": "9999"},  # no such unit
        {"code": "PB003", "kind": "alipay", "unit": "0101"},
    ):
        with pytest.raises(CommandError):
            call_command("agent_add", name="x", stdout=io.StringIO(), **kwargs)
    assert CollectionAgent.objects.count() == 2
