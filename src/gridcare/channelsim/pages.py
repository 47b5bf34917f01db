"""The pages a payer sees: the Alipay cashier, the WeChat confirm pages, results and errors, and the index.

Plain HTML strings with every value escaped; Chinese like the channels' own pages. The pay buttons are
forms that POST, so a page view alone never pays.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;margin:0;color:#333}
.bar{color:#fff;padding:12px 16px;font-size:18px}.alipay{background:#1677ff}.wechat{background:#07c160}
.card{background:#fff;margin:16px;padding:20px;border-radius:8px;max-width:480px}
.amount{font-size:32px;font-weight:600;margin:8px 0 16px}.muted{color:#888;font-size:13px}
button,.button{display:block;width:100%;padding:12px;border:0;border-radius:6px;font-size:16px;margin-top:12px;
text-align:center;text-decoration:none;cursor:pointer}
.pay-alipay{background:#1677ff;color:#fff}.pay-wechat{background:#07c160;color:#fff}.cancel{background:#eee;color:#333}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:6px;text-align:left}
.sim{background:#fffbe6;color:#ad6800;font-size:12px;padding:6px 16px}
"""


def _page(title: str, bar_class: str, bar_text: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<div class='bar {bar_class}'>{escape(bar_text)}</div>"
        "<div class='sim'>本地模拟环境（GridCare channel simulator），不产生真实资金往来</div>"
        f"{body}</body></html>"
    )


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)


def alipay_cashier(*, amount: str, subject: str, out_trade_no: str, pay_action: str, cancel_url: str) -> str:
    """The Alipay cashier (收银台): amount, subject, order number, 确认付款 and 取消."""
    body = (
        "<div class='card'>"
        f"<div class='muted'>{escape(subject)}</div>"
        f"<div class='amount'>￥{escape(amount)}</div>"
        f"<table>{_rows([('商品名称', subject), ('商户订单号', out_trade_no), ('订单金额', amount + ' 元')])}</table>"
        f"<form method='post' action='{escape(pay_action)}'>"
        "<button type='submit' class='pay-alipay' id='pay'>确认付款</button></form>"
        f"<a class='button cancel' id='cancel' href='{escape(cancel_url)}'>取消</a>"
        "</div>"
    )
    return _page("支付宝 - 网上支付 安全快速！", "alipay", "支付宝收银台", body)


def wechat_confirm(
    *, amount: str, subject: str, out_trade_no: str, pay_action: str, hidden: dict[str, str] | None = None
) -> str:
    """WeChat's confirm sheet (what the Native QR, the H5 page and wx.requestPayment show): 确认支付."""
    fields = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in (hidden or {}).items()
    )
    body = (
        "<div class='card'>"
        f"<div class='muted'>{escape(subject)}</div>"
        f"<div class='amount'>￥{escape(amount)}</div>"
        f"<table>{_rows([('商品', subject), ('商户单号', out_trade_no)])}</table>"
        f"<form method='post' action='{escape(pay_action)}'>{fields}"
        "<button type='submit' class='pay-wechat' id='pay'>确认支付</button></form>"
        "</div>"
    )
    return _page("微信支付", "wechat", "微信支付", body)


def result(
    *, channel: str, title: str, message: str, link: str | None = None, link_text: str = "返回商户"
) -> str:
    bar = "alipay" if channel == "alipay" else "wechat"
    back = f"<a class='button cancel' href='{escape(link)}'>{escape(link_text)}</a>" if link else ""
    body = f"<div class='card'><h2>{escape(title)}</h2><p>{escape(message)}</p>{back}</div>"
    return _page(title, bar, "支付宝" if bar == "alipay" else "微信支付", body)


def error(*, channel: str, code: str, message: str) -> str:
    bar = "alipay" if channel == "alipay" else "wechat"
    body = (
        "<div class='card'><h2>出错了</h2>"
        f"<p>{escape(message)}</p><p class='muted'>错误代码：{escape(code)}</p></div>"
    )
    return _page("出错了", bar, "支付宝" if bar == "alipay" else "微信支付", body)


STATUS_TEXT = {
    "WAIT_BUYER_PAY": "等待付款",
    "TRADE_SUCCESS": "支付成功",
    "TRADE_CLOSED": "已关闭",
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "已关闭",
    "REFUND": "转入退款",
}


def index(trades: list[dict], links: dict[str, str]) -> str:
    """Recent trades of both channels with their pay pages."""
    rows = []
    for trade in trades:
        channel = "支付宝" if trade["channel"] == "alipay" else "微信支付"
        link = links.get(trade["token"], "")
        pay = f"<a href='{escape(link)}'>付款页</a>" if link else ""
        rows.append(
            "<tr>"
            f"<td>{escape(channel)}</td><td>{escape(trade['out_trade_no'])}</td><td>{escape(trade['subject'])}</td>"
            f"<td>{trade['total'] / 100:.2f}</td><td>{escape(STATUS_TEXT.get(trade['status'], trade['status']))}</td>"
            f"<td>{pay}</td></tr>"
        )
    table = (
        "<table><tr><th>渠道</th><th>商户订单号</th><th>商品</th><th>金额（元）</th><th>状态</th><th></th></tr>"
        + ("".join(rows) or "<tr><td colspan='6'>暂无交易</td></tr>")
        + "</table>"
    )
    body = (
        "<div class='card' style='max-width:960px'><h2>支付渠道模拟器</h2>"
        "<p class='muted'>支付宝 gateway.do 与微信支付 API v3 的本地模拟。管理接口见 /_sim/。</p>"
        f"<h3>最近交易</h3>{table}</div>"
    )
    return _page("支付渠道模拟器", "alipay", "GridCare 支付渠道模拟器", body)


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to whatever query it has."""
    joiner = "&" if "?" in url else "?"
    return url + joiner + urlencode(params)
