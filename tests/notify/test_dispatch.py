"""Dispatch: file backend, retries with backoff through dead (injected clock), HTTP SMS and WeChat backends
against real local HTTP servers that check the signature and the token, e-mail through locmem, and two
concurrent dispatchers on PostgreSQL.
"""

import json
import threading
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from django.db import connection

from gridcare.customers.models import Customer
from gridcare.notify import backends, dispatch, outbox
from gridcare.notify.choices import Kind
from gridcare.notify.models import Notification, NotifyPreference

from .conftest import at

D = Decimal
CTX = {"period": "2026年10月", "amount": D("80.70"), "due_date": date(2026, 11, 20)}
T0 = at(2026, 11, 5, 10)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent dispatchers need PostgreSQL's row locks"
)


def enqueue(world, key="bill:1", customer=None):
    c = customer or world.cust_a
    return outbox.notification_enqueue(
        kind=Kind.BILL_ISSUED,
        customer_id=c.pk,
        account_id=c.accounts.first().pk,
        context=CTX,
        dedupe_key=key,
        now=T0,
    )


def test_file_backend_writes_a_json_line(world, notify_settings):
    [n] = enqueue(world)
    r = dispatch.outbox_dispatch(now=T0)
    assert (r.claimed, r.sent) == (1, 1)
    n.refresh_from_db()
    assert (n.status, n.attempts, n.sent_at, n.provider_id) == ("sent", 1, T0, f"file-{n.pk}")
    [line] = Path(notify_settings.NOTIFY["FILE_PATH"]).read_text(encoding="utf-8").splitlines()
    data = json.loads(line)
    assert data["to"] == "13812345678" and "80.70元" in data["body"]
    assert dispatch.outbox_dispatch(now=T0).claimed == 0  # sent rows are not sent again


def test_not_before_holds_a_quiet_hours_notice(world):
    outbox.notification_enqueue(
        kind=Kind.BILL_ISSUED,
        customer_id=world.cust_a.pk,
        context=CTX,
        dedupe_key="night",
        now=at(2026, 11, 5, 23),
    )
    assert dispatch.outbox_dispatch(now=at(2026, 11, 6, 7, 59)).claimed == 0
    assert dispatch.outbox_dispatch(now=at(2026, 11, 6, 8, 0)).sent == 1


class Flaky:
    """A backend that fails the way it is told."""

    def __init__(self, error):
        self.error = error
        self.calls = 0

    def send(self, n):
        self.calls += 1
        raise self.error


def test_retries_with_backoff_then_dead(world, monkeypatch):
    [n] = enqueue(world)
    flaky = Flaky(backends.TemporaryError("HTTP 503"))
    monkeypatch.setattr(backends, "backend_for", lambda channel: flaky)
    now = T0
    # attempt 1 at T0 → retry at +1 min; 2 → +5 min; 3 → +30 min; 4 → +2 h; attempt 5 fails → dead.
    for attempt, delay in [
        (1, timedelta(minutes=1)),
        (2, timedelta(minutes=5)),
        (3, timedelta(minutes=30)),
        (4, timedelta(hours=2)),
    ]:
        assert dispatch.outbox_dispatch(now=now).retrying == 1
        n.refresh_from_db()
        assert (n.status, n.attempts, n.next_attempt_at) == ("retrying", attempt, now + delay)
        assert dispatch.outbox_dispatch(now=now + delay - timedelta(seconds=1)).claimed == 0  # not due yet
        now += delay
    assert dispatch.outbox_dispatch(now=now).dead == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.last_error) == ("dead", 5, "HTTP 503")
    assert flaky.calls == 5
    assert dispatch.outbox_dispatch(now=now + timedelta(days=1)).claimed == 0


def test_permanent_error_is_dead_at_once(world, monkeypatch):
    [n] = enqueue(world)
    monkeypatch.setattr(
        backends, "backend_for", lambda channel: Flaky(backends.PermanentError("HTTP 400: bad phone"))
    )
    assert dispatch.outbox_dispatch(now=T0).dead == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.last_error) == ("dead", 1, "HTTP 400: bad phone")


def test_a_crashing_backend_is_retried_and_others_still_go(world, monkeypatch):
    enqueue(world, "a")
    enqueue(world, "b", customer=world.cust_b)
    real = backends.FileBackend()

    class Half:
        def send(self, n):
            if n.customer_id == world.cust_a.pk:
                raise RuntimeError("boom")
            return real.send(n)

    monkeypatch.setattr(backends, "backend_for", lambda channel: Half())
    r = dispatch.outbox_dispatch(now=T0)
    assert (r.sent, r.retrying) == (1, 1)
    assert Notification.objects.get(customer=world.cust_a).last_error == "RuntimeError: boom"


def test_nothing_is_sent_until_the_dispatch_job_runs(
    world, notify_settings, django_capture_on_commit_callbacks
):
    # Notices are sent only by the dispatch function (the scheduled job), never when the enqueue commits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outbox.notification_enqueue(
            kind=Kind.BILL_ISSUED,
            customer_id=world.cust_a.pk,
            context=CTX,
            dedupe_key="dev",
            now=at(2026, 11, 5, 10),
        )
    assert callbacks == [] and Notification.objects.get().status == "pending"
    assert dispatch.outbox_dispatch(now=at(2026, 11, 5, 10, 1)).sent == 1
    assert Notification.objects.get().status == "sent"


# ---------------------------------------------------------------- e-mail


def test_email_through_locmem(world, notify_settings):
    notify_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notify_settings.NOTIFY = {
        **notify_settings.NOTIFY,
        "BACKENDS": {"sms": "file", "wechat": "file", "email": "email"},
    }
    Customer.objects.filter(pk=world.cust_a.pk).update(
        notify_sms=False, notify_email=True, email="zs@example.cn"
    )
    [n] = enqueue(world)
    assert dispatch.outbox_dispatch(now=T0).sent == 1
    [m] = mail.outbox
    assert m.to == ["zs@example.cn"] and m.subject == "2026年10月电费账单（户号3100000001）"
    assert "应缴电费80.70元" in m.body
    n.refresh_from_db()
    assert n.provider_id == m.extra_headers["Message-ID"]


# ---------------------------------------------------------------- local HTTP servers


class Server:
    """A real HTTP server on 127.0.0.1 in a thread; `handle(handler, body) -> (status, json)`."""

    def __init__(self, handle):
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _do(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, data = handle(self, body)
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _do

        self.requests = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


SECRET = "sms-secret-for-tests"


def sms_gateway(answer=(200, {"message_id": "M-1"})):
    def handle(h, body):
        ts, sig = h.headers.get("X-Gridcare-Timestamp", ""), h.headers.get("X-Gridcare-Signature", "")
        if backends.sms_signature(SECRET, ts, body) != sig:
            return 401, {"error": "bad signature"}
        return answer

    return handle


@pytest.fixture
def sms_settings(notify_settings):
    def use(url, secret=SECRET):
        notify_settings.NOTIFY = {
            **notify_settings.NOTIFY,
            "SMS_URL": url + "/send",
            "SMS_SECRET": secret,
            "HTTP_TIMEOUT": 5,
            "BACKENDS": {"sms": "http_sms", "wechat": "file", "email": "file"},
        }

    return use


def test_http_sms_signed_and_sent(world, sms_settings):
    [n] = enqueue(world)
    with Server(sms_gateway()) as srv:
        sms_settings(srv.url)
        assert dispatch.outbox_dispatch(now=T0).sent == 1
    n.refresh_from_db()
    assert (n.status, n.provider_id) == ("sent", "M-1")
    [(method, path, _headers, body)] = srv.requests
    assert (method, path) == ("POST", "/send")
    assert json.loads(body) == {"id": n.pk, "to": "13812345678", "content": n.body}


def test_http_sms_wrong_secret_is_refused_permanently(world, sms_settings):
    [n] = enqueue(world)
    with Server(sms_gateway()) as srv:
        sms_settings(srv.url, secret="not-the-gateway-secret")
        assert dispatch.outbox_dispatch(now=T0).dead == 1
    n.refresh_from_db()
    assert n.status == "dead" and n.last_error.startswith("HTTP 401")


def test_http_sms_5xx_and_missing_id_are_temporary(world, sms_settings):
    [n] = enqueue(world)
    with Server(sms_gateway((503, {"error": "busy"}))) as srv:
        sms_settings(srv.url)
        assert dispatch.outbox_dispatch(now=T0).retrying == 1
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("retrying", 1) and "HTTP 503" in n.last_error
    with Server(sms_gateway((200, {}))) as srv:
        sms_settings(srv.url)
        assert dispatch.outbox_dispatch(now=T0 + timedelta(minutes=1)).retrying == 1
    n.refresh_from_db()
    assert n.attempts == 2 and "without message_id" in n.last_error


def test_http_sms_unreachable_is_temporary(world, sms_settings):
    [n] = enqueue(world)
    with Server(sms_gateway()) as srv:
        url = srv.url
    sms_settings(url)  # the server is gone: connection refused
    assert dispatch.outbox_dispatch(now=T0).retrying == 1


APPID, APPSECRET = "wx1234567890", "mp-secret"


class WechatMP:
    """The two WeChat endpoints: /cgi-bin/token and /cgi-bin/message/template/send."""

    def __init__(self, send_answers=None):
        self.issued = []
        self.valid = set()
        self.send_answers = list(send_answers or [])
        self.sent = []

    def handle(self, h, body):
        url = urlparse(h.path)
        q = parse_qs(url.query)
        if url.path == "/cgi-bin/token":
            if (
                q.get("appid") != [APPID]
                or q.get("secret") != [APPSECRET]
                or q.get("grant_type") != ["client_credential"]
            ):
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            token = f"TOKEN{len(self.issued) + 1}"
            self.issued.append(token)
            self.valid = {token}
            return 200, {"access_token": token, "expires_in": 7200}
        if url.path == "/cgi-bin/message/template/send":
            if q.get("access_token", [""])[0] not in self.valid:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            if self.send_answers:
                return 200, self.send_answers.pop(0)
            self.sent.append(json.loads(body))
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332}
        return 404, {}


@pytest.fixture
def wechat_world(world, notify_settings):
    Customer.objects.filter(pk=world.cust_a.pk).update(notify_sms=False, notify_wechat=True)
    NotifyPreference.objects.create(customer=world.cust_a, wechat_openid="oUser001", updated_at=T0)

    def use(url):
        notify_settings.NOTIFY = {
            **notify_settings.NOTIFY,
            "WECHAT_BASE_URL": url,
            "WECHAT_APPID": APPID,
            "WECHAT_SECRET": APPSECRET,
            "HTTP_TIMEOUT": 5,
            "BACKENDS": {"sms": "file", "wechat": "wechat", "email": "file"},
        }

    return use


def test_wechat_token_cached_and_template_sent(world, wechat_world):
    enqueue(world, "a")
    enqueue(world, "b")
    mp = WechatMP()
    with Server(mp.handle) as srv:
        wechat_world(srv.url)
        assert dispatch.outbox_dispatch(now=T0).sent == 2
    assert mp.issued == ["TOKEN1"]  # one token for both messages
    assert mp.sent[0]["touser"] == "oUser001"
    assert mp.sent[0]["data"]["keyword3"] == {"value": "80.70元"}
    assert Notification.objects.filter(provider_id="200228332").count() == 2


def test_wechat_expired_token_is_refreshed_once(world, wechat_world):
    [n] = enqueue(world)
    mp = WechatMP()
    with Server(mp.handle) as srv:
        wechat_world(srv.url)
        backends.WechatBackend()._token()  # cached TOKEN1 …
        mp.valid = set()  # … which the server then expires (42001/40001)
        assert dispatch.outbox_dispatch(now=T0).sent == 1
    assert mp.issued == ["TOKEN1", "TOKEN2"]
    n.refresh_from_db()
    assert n.status == "sent"


def test_wechat_other_errcode_is_permanent(world, wechat_world):
    [n] = enqueue(world)
    mp = WechatMP(send_answers=[{"errcode": 43004, "errmsg": "require subscribe"}])
    with Server(mp.handle) as srv:
        wechat_world(srv.url)
        assert dispatch.outbox_dispatch(now=T0).dead == 1
    n.refresh_from_db()
    assert n.last_error == "errcode 43004 require subscribe"


def test_wechat_bad_app_secret_is_temporary(world, wechat_world, notify_settings):
    [n] = enqueue(world)
    with Server(WechatMP().handle) as srv:
        wechat_world(srv.url)
        notify_settings.NOTIFY = {**notify_settings.NOTIFY, "WECHAT_SECRET": "wrong"}
        assert dispatch.outbox_dispatch(now=T0).retrying == 1
    n.refresh_from_db()
    assert "errcode 40013" in n.last_error


# ---------------------------------------------------------------- PostgreSQL: two dispatchers


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_dispatchers_never_send_a_notice_twice(world, monkeypatch):
    for i in range(40):
        enqueue(world, f"bill:{i}")
    sent: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    class Slow:
        def send(self, n):
            with lock:
                sent.append(n.pk)
            return f"p{n.pk}"

    monkeypatch.setattr(backends, "backend_for", lambda channel: Slow())
    results = []

    def run():
        from django.db import connections

        try:
            barrier.wait()
            results.append(dispatch.outbox_dispatch(now=T0, batch=5))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 40  # each once, all of them
    assert sum(r.sent for r in results) == 40
    assert Notification.objects.filter(status="sent", attempts=1).count() == 40


def test_a_retry_does_not_wake_the_customer(world, monkeypatch):
    """Failed at 21:45 → retry due 21:46 (1 min) … the 3rd failure at 21:51 would retry at 22:21, inside the
    quiet hours, so it waits for 08:00; an emergency notice would not."""
    outbox.notification_enqueue(
        kind=Kind.BILL_ISSUED,
        customer_id=world.cust_a.pk,
        context=CTX,
        dedupe_key="bill",
        now=at(2026, 11, 5, 21, 45),
    )
    outbox.notification_enqueue(
        kind=Kind.EMERGENCY,
        customer_id=world.cust_b.pk,
        context={"text": "台风"},
        dedupe_key="sos",
        now=at(2026, 11, 5, 21, 45),
    )
    monkeypatch.setattr(backends, "backend_for", lambda channel: Flaky(backends.TemporaryError("busy")))
    dispatch.outbox_dispatch(now=at(2026, 11, 5, 21, 45))  # +1 min → 21:46
    dispatch.outbox_dispatch(now=at(2026, 11, 5, 21, 46))  # +5 min → 21:51
    dispatch.outbox_dispatch(now=at(2026, 11, 5, 21, 51))  # +30 min → 22:21: quiet
    bill, sos = Notification.objects.get(kind="bill_issued"), Notification.objects.get(kind="emergency")
    assert (bill.attempts, bill.next_attempt_at) == (3, at(2026, 11, 6, 8, 0))
    assert (sos.attempts, sos.next_attempt_at) == (3, at(2026, 11, 5, 22, 21))
