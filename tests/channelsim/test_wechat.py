"""WeChat Pay API v3 as a merchant meets it, through wechatpayv3's utils."""

import base64
import datetime as dt
import hashlib
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from wechatpayv3 import utils as wxutils

from gridcare.channelsim.keys import ensure

BEIJING = dt.timezone(dt.timedelta(hours=8))


def _order(
    sim, out_trade_no="GC2024000001", total=1230, notify_url="https://gridcare.example/notify", **extra
):
    keys = sim.keys
    body = {
        "appid": keys.wechat_appid,
        "mchid": keys.wechat_mchid,
        "description": "电费 3100000001",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "amount": {"total": total, "currency": "CNY"},
    }
    return body | extra


def _place(merchant, kind, body):
    return merchant.request("POST", f"/v3/pay/transactions/{kind}", body)


def _query(merchant, out_trade_no):
    return merchant.request("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=1900000001")


def _pay(sim, out_trade_no):
    answer = requests.post(f"{sim.url}/_sim/trades/wechat/{out_trade_no}/pay", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _notification(merchant, received):
    headers = received.headers
    serial = headers["Wechatpay-Serial"]
    public_key = wxutils.load_certificate(merchant.sim.keys.platform(serial).cert_pem).public_key()
    assert wxutils.rsa_verify(
        headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], received.body.decode(),
        headers["Wechatpay-Signature"], public_key,
    )  # fmt: skip
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    envelope = json.loads(received.body)
    return envelope, merchant.decrypt(envelope["resource"])


def test_native_order_is_signed_and_paying_notifies(sim, wechat_merchant, receiver):
    answer = _place(wechat_merchant, "native", _order(sim, notify_url=receiver.url + "/notify/wechat"))

    assert answer.status_code == 200
    assert wechat_merchant.verify(answer)
    assert (
        answer.headers["Wechatpay-Serial"] == sim.keys.wechat_platform[-1].serial
        and answer.headers["Request-ID"]
    )
    code_url = answer.json()["code_url"]
    assert code_url.startswith(sim.url + "/wechat/pay/")
    assert "确认支付" in requests.get(code_url, timeout=10).text
    assert requests.post(code_url, timeout=10).status_code == 200

    envelope, resource = _notification(wechat_merchant, receiver.wait_for(1)[0])
    assert envelope["event_type"] == "TRANSACTION.SUCCESS" and envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert envelope["resource"]["associated_data"] == "transaction"
    assert resource["trade_state"] == "SUCCESS" and resource["out_trade_no"] == "GC2024000001"
    assert resource["amount"]["total"] == 1230 and resource["amount"]["payer_total"] == 1230
    assert resource["appid"] == sim.keys.wechat_appid and resource["mchid"] == "1900000001"
    assert resource["trade_type"] == "NATIVE" and resource["payer"]["openid"].startswith("o")

    queried = _query(wechat_merchant, "GC2024000001")
    assert wechat_merchant.verify(queried)
    result = queried.json()
    assert result["trade_state"] == "SUCCESS" and result["transaction_id"] == resource["transaction_id"]
    assert result["success_time"].endswith("+08:00") and dt.datetime.fromisoformat(result["success_time"])


def test_the_answer_signature_does_not_hold_for_another_body(sim, wechat_merchant):
    answer = _place(wechat_merchant, "native", _order(sim))
    answer._content = answer.content.replace(b"/wechat/pay/", b"/wechat/pay/x")

    assert not wechat_merchant.verify(answer)


def test_bad_authorization_is_refused_with_sign_error(sim, wechat_merchant, tmp_path):
    other_key = wxutils.load_private_key(ensure(tmp_path / "other").wechat_merchant_private_pem)

    wrong_key = wechat_merchant.request(
        "POST", "/v3/pay/transactions/native", _order(sim), private_key=other_key
    )
    wrong_serial = wechat_merchant.request(
        "POST", "/v3/pay/transactions/native", _order(sim), serial="ABC123"
    )
    unsigned = requests.post(sim.url + "/wechat/v3/pay/transactions/native", json=_order(sim), timeout=10)
    header = wxutils.build_authorization(
        "/v3/pay/transactions/out-trade-no/GC2024000001?mchid=1900000001", "GET", "1900000001",
        sim.keys.wechat_cert_serial, wechat_merchant.private_key,
    ).replace(f'timestamp="{int(time.time())}"', f'timestamp="{int(time.time()) - 600}"')  # fmt: skip
    stale = requests.get(
        sim.url + "/wechat/v3/pay/transactions/out-trade-no/GC2024000001?mchid=1900000001",
        headers={"Authorization": header}, timeout=10,
    )  # fmt: skip

    for answer in (wrong_key, wrong_serial, unsigned, stale):
        assert answer.status_code == 401
        assert answer.json()["code"] == "SIGN_ERROR"
    assert requests.get(sim.url + "/_sim/trades", timeout=10).json()["trades"] == []


def test_the_merchants_request_is_logged_raw_so_its_signature_can_be_checked(sim, wechat_merchant):
    _place(wechat_merchant, "native", _order(sim))

    (logged,) = requests.get(sim.url + "/_sim/requests?path=/wechat/v3", timeout=10).json()["requests"]

    scheme, _, rest = logged["headers"]["Authorization"].partition(" ")
    fields = {k: v.strip('"') for k, v in (part.split("=", 1) for part in rest.split(","))}
    message = (
        f"POST\n/v3/pay/transactions/native\n{fields['timestamp']}\n{fields['nonce_str']}\n{logged['body']}\n"
    )
    public_key = wxutils.load_certificate(sim.keys.wechat_merchant_cert_pem).public_key()
    assert scheme == "WECHATPAY2-SHA256-RSA2048" and logged["status"] == 200
    assert verify_rsa(public_key, fields["signature"], message)
    assert not verify_rsa(public_key, fields["signature"], message.replace("1230", "1231"))


def verify_rsa(public_key, signature_b64: str, message: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature_b64), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def test_order_validation(sim, wechat_merchant):
    cases = {
        "short out_trade_no": _order(sim, out_trade_no="GC1"),
        "zero amount": _order(sim, total=0),
        "yuan amount": _order(sim, total=12.3),
        "bad time_expire": _order(sim, time_expire="2024-01-01 10:00:00"),
        "bad notify_url": _order(sim, notify_url="ftp://x"),
        "other appid": _order(sim) | {"appid": "wx0000000000000000"},
    }
    for name, body in cases.items():
        answer = _place(wechat_merchant, "native", body)
        assert answer.status_code == 400, name
        assert answer.json()["code"] in ("PARAM_ERROR", "APPID_MCHID_NOT_MATCH"), name
    jsapi = _place(wechat_merchant, "jsapi", _order(sim))
    h5 = _place(wechat_merchant, "h5", _order(sim))
    assert jsapi.status_code == h5.status_code == 400
    assert "payer/openid" in jsapi.json()["message"] and "scene_info" in h5.json()["message"]
    good = _order(sim, time_expire="2030-01-01T10:00:00+08:00")
    assert _place(wechat_merchant, "native", good).status_code == 200


def test_the_same_out_trade_no_answers_the_same_or_is_refused(sim, wechat_merchant):
    first = _place(wechat_merchant, "native", _order(sim))
    again = _place(wechat_merchant, "native", _order(sim))
    changed = _place(wechat_merchant, "native", _order(sim, total=999))

    assert again.json() == first.json()
    assert (changed.status_code, changed.json()["code"]) == (400, "INVALID_REQUEST")
    _pay(sim, "GC2024000001")
    paid = _place(wechat_merchant, "native", _order(sim))
    assert (paid.status_code, paid.json()["code"]) == (400, "ORDERPAID")


def test_jsapi_pay_sign_then_confirm_returns(sim, wechat_merchant, receiver):
    body = _order(sim, notify_url=receiver.url + "/n", payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})
    prepay_id = _place(wechat_merchant, "jsapi", body).json()["prepay_id"]
    params = {
        "appId": sim.keys.wechat_appid, "timeStamp": str(int(time.time())), "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": f"prepay_id={prepay_id}", "signType": "RSA",
    }  # fmt: skip
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    params["paySign"] = wxutils.rsa_sign(wechat_merchant.private_key, message)
    params["return"] = "http://portal.example/paid?order=GC2024000001"

    forged = requests.get(sim.url + "/wechat/jsapi?" + urlencode(params | {"nonceStr": "X"}), timeout=10)
    page = requests.get(sim.url + "/wechat/jsapi?" + urlencode(params), timeout=10)

    assert forged.status_code == 400 and "确认支付" not in forged.text
    assert page.status_code == 200 and "确认支付" in page.text and "12.30" in page.text
    paid = requests.post(sim.url + "/wechat/jsapi", data=params, allow_redirects=False, timeout=10)
    assert (paid.status_code, paid.headers["Location"]) == (302, params["return"])
    _, resource = _notification(wechat_merchant, receiver.wait_for(1)[0])
    assert resource["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" and resource["trade_type"] == "JSAPI"


def test_h5_page_goes_back_to_redirect_url(sim, wechat_merchant):
    body = _order(sim, scene_info={"payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}})
    h5_url = _place(wechat_merchant, "h5", body).json()["h5_url"]
    assert h5_url.startswith(sim.url + "/wechat/h5/")
    back = "http://portal.example/back?o=1"

    page = requests.get(h5_url + "?" + urlencode({"redirect_url": back}), timeout=10)
    paid = requests.post(h5_url, data={"redirect_url": back}, allow_redirects=False, timeout=10)

    assert "确认支付" in page.text and back.replace("&", "&amp;") in page.text
    assert (paid.status_code, paid.headers["Location"]) == (302, back)
    assert _query(wechat_merchant, "GC2024000001").json()["trade_type"] == "MWEB"


def test_query_and_close(sim, wechat_merchant):
    missing = _query(wechat_merchant, "NOSUCH0001")
    assert (missing.status_code, missing.json()["code"]) == (404, "ORDER_NOT_EXIST")
    _place(wechat_merchant, "native", _order(sim))
    assert _query(wechat_merchant, "GC2024000001").json()["trade_state"] == "NOTPAY"

    closed = wechat_merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/GC2024000001/close", {"mchid": "1900000001"}
    )

    assert closed.status_code == 204 and closed.content == b""
    assert wechat_merchant.verify(closed)
    assert _query(wechat_merchant, "GC2024000001").json()["trade_state"] == "CLOSED"
    assert requests.post(f"{sim.url}/_sim/trades/wechat/GC2024000001/pay", timeout=10).status_code == 409
    _place(wechat_merchant, "native", _order(sim, out_trade_no="GC2024000002"))
    _pay(sim, "GC2024000002")
    paid = wechat_merchant.request(
        "POST", "/v3/pay/transactions/out-trade-no/GC2024000002/close", {"mchid": "1900000001"}
    )
    assert (paid.status_code, paid.json()["code"]) == (400, "ORDERPAID")


def test_refund_processing_then_success_with_a_notification_without_appid(sim, wechat_merchant, receiver):
    _place(wechat_merchant, "native", _order(sim, total=10000))
    _pay(sim, "GC2024000001")

    def refund(out_refund_no, amount):
        body = {
            "out_trade_no": "GC2024000001", "out_refund_no": out_refund_no, "reason": "多缴退费",
            "notify_url": receiver.url + "/refund", "amount": {"refund": amount, "total": 10000, "currency": "CNY"},
        }  # fmt: skip
        return wechat_merchant.request("POST", "/v3/refund/domestic/refunds", body)

    first = refund("RF0001", 3000)
    assert first.status_code == 200 and wechat_merchant.verify(first)
    assert first.json()["status"] == "PROCESSING" and first.json()["amount"]["refund"] == 3000
    assert refund("RF0001", 3000).json()["refund_id"] == first.json()["refund_id"]
    over = refund("RF0002", 7001)
    assert (over.status_code, over.json()["code"]) == (400, "NOT_ENOUGH")

    (received,) = receiver.wait_for(1)
    envelope, resource = _notification(wechat_merchant, received)
    assert received.path == "/refund"
    assert envelope["event_type"] == "REFUND.SUCCESS" and envelope["resource"]["associated_data"] == "refund"
    assert "appid" not in resource
    assert resource["refund_status"] == "SUCCESS" and resource["out_refund_no"] == "RF0001"
    assert resource["amount"] == {"total": 10000, "refund": 3000, "payer_total": 10000, "payer_refund": 3000}
    queried = wechat_merchant.request("GET", "/v3/refund/domestic/refunds/RF0001")
    assert queried.json()["status"] == "SUCCESS" and queried.json()["success_time"].endswith("+08:00")
    assert _query(wechat_merchant, "GC2024000001").json()["trade_state"] == "REFUND"
    unknown = wechat_merchant.request("GET", "/v3/refund/domestic/refunds/RF9999")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")


def test_a_refund_on_wechats_side_sends_refund_success(sim, wechat_merchant, receiver):
    _place(wechat_merchant, "native", _order(sim, notify_url=receiver.url + "/n"))
    _pay(sim, "GC2024000001")

    answer = requests.post(
        f"{sim.url}/_sim/trades/wechat/GC2024000001/refund", json={"amount": "1.23"}, timeout=10
    )

    assert answer.status_code == 200
    received = receiver.wait_for(2)
    events = [_notification(wechat_merchant, r)[0]["event_type"] for r in received]
    assert events == ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]
    assert _notification(wechat_merchant, received[1])[1]["amount"]["refund"] == 123


def test_notifications_are_retried_until_2xx(sim, wechat_merchant, receiver):
    receiver.answers.extend([(500, b'{"code":"FAIL"}')])
    _place(wechat_merchant, "native", _order(sim, notify_url=receiver.url + "/n"))
    _pay(sim, "GC2024000001")

    first, second = receiver.wait_for(2)[:2]

    assert json.loads(first.body)["id"] == json.loads(second.body)["id"]
    assert first.headers["Wechatpay-Nonce"] != second.headers["Wechatpay-Nonce"]  # signed afresh
    for _ in range(100):
        (notification,) = requests.get(sim.url + "/_sim/notifications", timeout=10).json()["notifications"]
        if notification["state"] == "done":
            break
    assert notification["state"] == "done"
    assert [a["status"] for a in notification["attempt_log"]] == [500, 200]
    assert notification["attempt_log"][0]["answer"] == '{"code":"FAIL"}'


def test_rotation_lists_both_certificates_and_signs_with_the_new(sim, wechat_merchant):
    old = sim.keys.wechat_platform[-1].serial

    rotated = requests.post(sim.url + "/_sim/wechat/rotate", timeout=10).json()
    listing = wechat_merchant.request("GET", "/v3/certificates")

    new = rotated["serial"]
    assert new != old and rotated["serials"][-2:] == [old, new]
    assert listing.headers["Wechatpay-Serial"] == new and wechat_merchant.verify(listing)
    data = listing.json()["data"]
    assert {old, new} <= {item["serial_no"] for item in data}
    for item in data:
        encrypted = item["encrypt_certificate"]
        assert encrypted["associated_data"] == "certificate" and encrypted["algorithm"] == "AEAD_AES_256_GCM"
        pem = wxutils.aes_decrypt(
            encrypted["nonce"],
            encrypted["ciphertext"],
            encrypted["associated_data"],
            sim.keys.wechat_api_v3_key,
        )
        assert format(wxutils.load_certificate(pem).serial_number, "X") == item["serial_no"]
    assert _query(wechat_merchant, "NOSUCH0001").headers["Wechatpay-Serial"] == new


def test_the_trade_bill_is_wechats_csv(sim, wechat_merchant, clock):
    _place(wechat_merchant, "native", _order(sim, total=10000))  # signed now: the clock moves afterwards
    clock.at(dt.datetime(2024, 2, 29, 10, 0, tzinfo=BEIJING).timestamp())
    _pay(sim, "GC2024000001")
    sim.app.wechat.refund_from_channel("GC2024000001", 2500)
    sim.app.deliver_pending(clock() + 1)
    clock.offset = 0

    answer = wechat_merchant.request("GET", "/v3/bill/tradebill?bill_date=2024-02-29&bill_type=ALL")
    empty = wechat_merchant.request("GET", "/v3/bill/tradebill?bill_date=2024-02-28&bill_type=ALL")

    assert answer.status_code == 200 and wechat_merchant.verify(answer)
    bill = answer.json()
    assert bill["hash_type"] == "SHA1"
    assert bill["download_url"].startswith(sim.url + "/wechat/v3/billdownload/file?token=")
    path = bill["download_url"][len(sim.url + "/wechat") :]
    content = wechat_merchant.request("GET", path).content
    assert hashlib.sha1(content).hexdigest() == bill["hash_value"]  # noqa: S324 - WeChat's own choice
    lines = content.decode("utf-8").splitlines()
    assert lines[0].startswith(
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型"
    )
    assert lines[0].endswith("手续费,费率,订单金额,申请退款金额,费率备注")
    assert (
        lines[-2]
        == "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    )
    rows = [line.split(",") for line in lines[1:-2]]
    assert all(value.startswith("`") for row in rows for value in row)
    paid, refunded = ([v[1:] for v in row] for row in rows)
    assert (paid[0], paid[6], paid[9], paid[12]) == (
        "2024-02-29 10:00:00",
        "GC2024000001",
        "SUCCESS",
        "100.00",
    )
    assert (refunded[9], refunded[16], refunded[19]) == ("REFUND", "25.00", "SUCCESS")
    summary = [v[1:] for v in lines[-1].split(",")]
    assert summary[:3] == ["2", "100.00", "25.00"]
    assert (empty.status_code, empty.json()["code"]) == (400, "NO_STATEMENT_EXIST")
    unsigned = requests.get(bill["download_url"], timeout=10)
    assert unsigned.status_code == 401


def test_oauth_code_exchange(sim):
    keys = sim.keys
    browser = requests.Session()
    query = {
        "appid": keys.wechat_appid, "redirect_uri": "http://portal.example/wx/back?next=/pay",
        "response_type": "code", "scope": "snsapi_base", "state": "s123",
    }  # fmt: skip

    first = browser.get(
        sim.url + "/wechat-open/connect/oauth2/authorize", params=query, allow_redirects=False
    )
    second = browser.get(
        sim.url + "/wechat-open/connect/oauth2/authorize", params=query, allow_redirects=False
    )
    stranger = requests.get(
        sim.url + "/wechat-open/connect/oauth2/authorize", params=query, allow_redirects=False
    )

    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    back = dict(parse_qsl(location.query))
    assert (location.netloc, location.path, back["next"], back["state"]) == (
        "portal.example",
        "/wx/back",
        "/pay",
        "s123",
    )

    def exchange(code, secret=keys.wechat_app_secret):
        params = {
            "appid": keys.wechat_appid,
            "secret": secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        return requests.get(sim.url + "/wechat-api/sns/oauth2/access_token", params=params, timeout=10).json()

    token = exchange(back["code"])
    assert token["scope"] == "snsapi_base" and token["expires_in"] == 7200 and token["access_token"]
    assert len(token["openid"]) == 28 and token["openid"].startswith("o")
    assert exchange(back["code"]) == {"errcode": 40029, "errmsg": "invalid code"}
    assert exchange("nonsense")["errcode"] == 40029
    code2 = dict(parse_qsl(urlsplit(second.headers["Location"]).query))["code"]
    assert exchange(code2, secret="wrong")["errcode"] == 40125
    assert exchange(code2)["openid"] == token["openid"]  # the same browser, the same openid
    code3 = dict(parse_qsl(urlsplit(stranger.headers["Location"]).query))["code"]
    assert exchange(code3)["openid"] != token["openid"]
