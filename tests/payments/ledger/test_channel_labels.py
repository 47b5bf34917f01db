"""Payment channels are shown by their Chinese names on console pages, never as codes (alipay, counter_cash)."""

import html

from tests.payments.ledger.test_ledger_pages import billing_a, book, ledger_url  # noqa: F401 (fixtures)


def test_ledger_shows_the_payment_channel_by_name(world, book, login):  # noqa: F811
    body = html.unescape(login(world.a_clerk).get(ledger_url()).content.decode())
    # the payment entry's note is stored as "counter_cash:P-150"
    assert "<td>柜台现金：P-150</td>" in body
    assert "counter_cash" not in body


def test_reconciliation_channel_choices_are_labelled(world, billing_a, login):  # noqa: F811
    body = html.unescape(login(billing_a).get("/payments/reconcile/").content.decode())
    assert '<option value="alipay">支付宝</option>' in body
    assert '<option value="wechat">微信支付</option>' in body
    assert ">alipay<" not in body and ">wechat<" not in body
