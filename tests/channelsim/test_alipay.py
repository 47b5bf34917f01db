"""Alipay's gateway.do as a merchant meets it, driven through python-alipay-sdk."""

import csv
import datetime as dt
import io
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from alipay.exceptions import AliPayException

from gridcare.channelsim.keys import ensure
from gridcare.payments.channels.signatures import alipay_verify

from .conftest import AlipayMerchant

BEIJING = dt.timezone(dt.timedelta(hours=8))


def _precreate(merchant, out_trade_no="GC202401010001", amount="12.30", notify_url=None):
    extra = {"notify_url": notify_url} if notify_url else {}
    biz = {"out_trade_no": out_trade_no, "total_amount": amount, "subject": "电费 3100000001"}
    return merchant.call("alipay.trade.precreate", biz, **extra)


def _pay(sim, out_trade_no):
    answer = requests.post(f"{sim.url}/_sim/trades/alipay/{out_trade_no}/pay", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _form(received) -> dict[str, str]:
    return dict(parse_qsl(received.body.decode("utf-8"), keep_blank_values=True))


def test_precreate_then_pay_sends_a_signed_notification(sim, alipay_merchant, receiver):
    answer = _precreate(alipay_merchant, notify_url=receiver.url + "/notify/alipay")

    assert answer["code"] == "10000"
    assert answer["qr_code"].startswith(sim.url + "/alipay/qr/")
    assert "确认付款" in requests.get(answer["qr_code"], timeout=10).text
    _pay(sim, "GC202401010001")

    (note,) = receiver.wait_for(1)
    params = _form(note)
    assert note.path == "/notify/alipay"
    assert params["trade_status"] == "TRADE_SUCCESS"
    assert params["total_amount"] == "12.30" and params["out_trade_no"] == "GC202401010001"
    assert params["app_id"] == sim.keys.alipay_app_id and params["seller_id"] == sim.keys.alipay_seller_id
    assert params["notify_type"] == "trade_status_sync" and params["sign_type"] == "RSA2"
    assert alipay_verify(params, sim.keys.alipay_public_pem)
    sign = params.pop("sign")
    params.pop("sign_type")
    assert alipay_merchant.sdk.verify(params, sign)
    tampered = _form(note) | {"total_amount": "1.00"}
    assert not alipay_verify(tampered, sim.keys.alipay_public_pem)


def test_notification_is_done_only_on_success_and_retried_otherwise(sim, alipay_merchant, receiver):
    receiver.answers.extend([(200, b"fail"), (500, b"oops")])
    _precreate(alipay_merchant, notify_url=receiver.url + "/n")
    _pay(sim, "GC202401010001")

    receiver.wait_for(3)

    (notification,) = requests.get(sim.url + "/_sim/notifications", timeout=10).json()["notifications"]
    for _ in range(100):
        if notification["state"] == "done":
            break
        notification = requests.get(sim.url + "/_sim/notifications", timeout=10).json()["notifications"][0]
    assert notification["state"] == "done"
    assert [(a["status"], a["answer"]) for a in notification["attempt_log"]] == [
        (200, "fail"), (500, "oops"), (200, "success"),
    ]  # fmt: skip
    ids = {_form(r)["notify_id"] for r in receiver.received}
    assert len(ids) == 1  # the same notification retried


def test_a_bad_request_signature_is_refused_in_the_channels_shape(sim, alipay_merchant, tmp_path):
    impostor = AlipayMerchant(sim, app_private_pem=ensure(tmp_path / "other").alipay_app_private_pem)

    answer = impostor.raw("alipay.trade.query", {"out_trade_no": "GC202401010001"})

    assert answer.json() == {
        "error_response": {
            "code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错",
        },
        "sign": "",
    }  # fmt: skip
    with pytest.raises(AliPayException):
        alipay_merchant.sdk._verify_and_return_sync_response(answer.text, "alipay_trade_query_response")


def test_a_tampered_parameter_breaks_the_signature(sim, alipay_merchant):
    signed = alipay_merchant.signed("alipay.trade.query", {"out_trade_no": "GC202401010001"})
    tampered = signed.replace("GC202401010001", "GC202401010002")

    answer = requests.post(sim.url + "/alipay/gateway.do", data=tampered, timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip

    assert answer.json()["error_response"]["sub_code"] == "isv.invalid-signature"


def test_a_get_with_query_parameters_works_like_the_sdks_own_transport(sim, alipay_merchant):
    _precreate(alipay_merchant)
    url = (
        sim.url
        + "/alipay/gateway.do?"
        + alipay_merchant.signed("alipay.trade.query", {"out_trade_no": "GC202401010001"})
    )

    answer = requests.get(url, timeout=10)

    result = alipay_merchant.sdk._verify_and_return_sync_response(answer.text, "alipay_trade_query_response")
    assert result["trade_status"] == "WAIT_BUYER_PAY"


def test_wap_pay_renders_the_cashier_and_paying_returns_signed(sim, alipay_merchant, receiver):
    signed = alipay_merchant.signed(
        "alipay.trade.wap.pay",
        {
            "out_trade_no": "GCWAP0001",
            "total_amount": "88.80",
            "subject": "电费",
            "product_code": "QUICK_WAP_WAY",
        },
        return_url="http://shop.example/return?x=1",
        notify_url=receiver.url + "/n",
    )

    page = requests.get(sim.url + "/alipay/gateway.do?" + signed, timeout=10)

    assert page.status_code == 200
    assert (
        "88.80" in page.text and "GCWAP0001" in page.text and "确认付款" in page.text and "取消" in page.text
    )
    token = page.text.split("/alipay/cashier/")[1].split("/pay")[0]
    paid = requests.post(f"{sim.url}/alipay/cashier/{token}/pay", allow_redirects=False, timeout=10)
    assert paid.status_code == 302
    location = urlsplit(paid.headers["Location"])
    assert (location.netloc, location.path) == ("shop.example", "/return")
    params = dict(parse_qsl(location.query))
    assert params.pop("x") == "1"
    assert params["method"] == "alipay.trade.wap.pay.return" and params["total_amount"] == "88.80"
    sign = params.pop("sign")
    params.pop("sign_type")
    assert alipay_merchant.sdk.verify(params, sign)
    assert _form(receiver.wait_for(1)[0])["trade_status"] == "TRADE_SUCCESS"


def test_page_pay_with_a_bad_signature_shows_an_error_page_and_creates_nothing(sim, alipay_merchant):
    signed = alipay_merchant.signed(
        "alipay.trade.page.pay", {"out_trade_no": "GCPAGE0001", "total_amount": "1.00", "subject": "电费"}
    )

    page = requests.get(sim.url + "/alipay/gateway.do?" + signed.replace("1.00", "0.01"), timeout=10)

    assert "isv.invalid-signature" in page.text and "确认付款" not in page.text
    assert requests.get(sim.url + "/_sim/trades", timeout=10).json()["trades"] == []


def test_query_close_and_their_errors(sim, alipay_merchant):
    missing = alipay_merchant.call("alipay.trade.query", {"out_trade_no": "NOPE000001"})
    assert (missing["code"], missing["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
    assert alipay_merchant.call("alipay.trade.close", {"out_trade_no": "NOPE000001"})["sub_code"] == (
        "ACQ.TRADE_NOT_EXIST"
    )

    _precreate(alipay_merchant, "GCCLOSE001")
    closed = alipay_merchant.call("alipay.trade.close", {"out_trade_no": "GCCLOSE001"})
    assert closed["code"] == "10000"
    queried = alipay_merchant.call("alipay.trade.query", {"out_trade_no": "GCCLOSE001"})
    assert queried["trade_status"] == "TRADE_CLOSED"
    assert requests.post(f"{sim.url}/_sim/trades/alipay/GCCLOSE001/pay", timeout=10).status_code == 409

    _precreate(alipay_merchant, "GCPAID0001")
    _pay(sim, "GCPAID0001")
    refused = alipay_merchant.call("alipay.trade.close", {"out_trade_no": "GCPAID0001"})
    assert refused["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
    paid = alipay_merchant.call("alipay.trade.query", {"out_trade_no": "GCPAID0001"})
    assert paid["trade_status"] == "TRADE_SUCCESS" and paid["total_amount"] == "12.30"
    assert dt.datetime.strptime(paid["send_pay_date"] + " +0800", "%Y-%m-%d %H:%M:%S %z")
    assert paid["trade_no"].isdigit() and len(paid["trade_no"]) == 28


def test_placing_the_same_order_with_other_content_is_refused(sim, alipay_merchant):
    first = _precreate(alipay_merchant, "GCSAME0001", "10.00")

    again = _precreate(alipay_merchant, "GCSAME0001", "10.00")
    changed = _precreate(alipay_merchant, "GCSAME0001", "11.00")

    assert again["qr_code"] == first["qr_code"]
    assert changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"


def test_refunds_partial_idempotent_over_and_full(sim, alipay_merchant, receiver):
    _precreate(alipay_merchant, "GCREF00001", "100.00", notify_url=receiver.url + "/n")
    _pay(sim, "GCREF00001")
    receiver.wait_for(1)

    def refund(amount, request_no):
        biz = {"out_trade_no": "GCREF00001", "refund_amount": amount, "out_request_no": request_no}
        return alipay_merchant.call("alipay.trade.refund", biz)

    first = refund("30.00", "R1")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "30.00")
    repeat = refund("30.00", "R1")
    assert (repeat["fund_change"], repeat["refund_fee"]) == ("N", "30.00")
    over = refund("70.01", "R2")
    assert over["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
    rest = refund("70.00", "R3")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "100.00")
    status = alipay_merchant.call("alipay.trade.query", {"out_trade_no": "GCREF00001"})["trade_status"]
    assert status == "TRADE_CLOSED"
    assert refund("0.01", "R4")["sub_code"] == "ACQ.TRADE_STATUS_ERROR"

    found = alipay_merchant.call(
        "alipay.trade.fastpay.refund.query", {"out_trade_no": "GCREF00001", "out_request_no": "R1"}
    )
    assert (found["refund_amount"], found["refund_status"]) == ("30.00", "REFUND_SUCCESS")
    unknown = alipay_merchant.call(
        "alipay.trade.fastpay.refund.query", {"out_trade_no": "GCREF00001", "out_request_no": "R2"}
    )
    assert unknown["code"] == "10000" and "refund_amount" not in unknown

    notes = [_form(r) for r in receiver.wait_for(3)]
    assert [(n["trade_status"], n.get("refund_fee"), n.get("out_biz_no")) for n in notes] == [
        ("TRADE_SUCCESS", None, None), ("TRADE_SUCCESS", "30.00", "R1"), ("TRADE_CLOSED", "100.00", "R3"),
    ]  # fmt: skip
    assert all(alipay_verify(n, sim.keys.alipay_public_pem) for n in notes)


def test_a_refund_on_alipays_side_notifies_partial_then_full(sim, alipay_merchant, receiver):
    _precreate(alipay_merchant, "GCSIDE0001", "50.00", notify_url=receiver.url + "/n")
    _pay(sim, "GCSIDE0001")

    partial = requests.post(
        f"{sim.url}/_sim/trades/alipay/GCSIDE0001/refund", json={"amount": "20.00"}, timeout=10
    )
    full = requests.post(
        f"{sim.url}/_sim/trades/alipay/GCSIDE0001/refund", json={"amount": "30.00"}, timeout=10
    )
    too_much = requests.post(
        f"{sim.url}/_sim/trades/alipay/GCSIDE0001/refund", json={"amount": "1"}, timeout=10
    )

    assert partial.json()["status"] == "TRADE_SUCCESS" and full.json()["status"] == "TRADE_CLOSED"
    assert too_much.status_code == 409
    notes = [_form(r) for r in receiver.wait_for(3)]
    assert [(n["trade_status"], n.get("refund_fee")) for n in notes[1:]] == [
        ("TRADE_SUCCESS", "20.00"), ("TRADE_CLOSED", "50.00"),
    ]  # fmt: skip


def test_the_trade_bill_is_alipays_gbk_csv_of_the_beijing_day(sim, alipay_merchant, clock):
    # 23:59:30 in Beijing is 15:59:30 UTC: the payment belongs to the Beijing day, the refund to the next.
    clock.at(dt.datetime(2024, 2, 29, 23, 59, 30, tzinfo=BEIJING).timestamp())
    _precreate(alipay_merchant, "GCBILL0001", "12.30")
    _pay(sim, "GCBILL0001")
    clock.at(dt.datetime(2024, 3, 1, 0, 0, 30, tzinfo=BEIJING).timestamp())
    biz = {"out_trade_no": "GCBILL0001", "refund_amount": "2.30", "out_request_no": "RB1"}
    alipay_merchant.call("alipay.trade.refund", biz)
    clock.offset = 0

    day1 = alipay_merchant.call(
        "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": "2024-02-29"}
    )
    day2 = alipay_merchant.call(
        "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": "2024-03-01"}
    )

    assert day1["bill_download_url"].startswith(sim.url + "/alipay/bill/2024-02-29.csv?token=")
    raw = requests.get(day1["bill_download_url"], timeout=10).content
    text = raw.decode("gbk")
    lines = text.splitlines()
    assert lines[0].startswith("#") and lines[-1].startswith("#")
    table = [line for line in lines if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(table))))
    assert table[0].startswith("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号")
    assert table[0].endswith("退款批次号/请求号,服务费（元）,分润（元）,备注")
    assert len(rows) == 1
    assert (rows[0]["商户订单号"], rows[0]["业务类型"], rows[0]["订单金额（元）"]) == (
        "GCBILL0001",
        "交易",
        "12.30",
    )
    assert rows[0]["完成时间"] == "2024-02-29 23:59:30"
    refund_rows = [
        line for line in requests.get(day2["bill_download_url"], timeout=10).content.decode("gbk").splitlines()
        if line and not line.startswith("#")
    ][1:]  # fmt: skip
    (refund_row,) = csv.reader(refund_rows)
    assert refund_row[1:3] == ["GCBILL0001", "退款"] and refund_row[11:13] == ["-2.30", "-2.30"]
    assert refund_row[21] == "RB1"
    assert (
        requests.get(day1["bill_download_url"].split("?")[0] + "?token=forged", timeout=10).status_code == 404
    )
    future = alipay_merchant.call(
        "alipay.data.dataservice.bill.downloadurl.query", {"bill_type": "trade", "bill_date": "2999-01-01"}
    )
    assert future["code"] == "40004"
