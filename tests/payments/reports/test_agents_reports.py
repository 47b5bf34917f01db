"""The collection agents in the channel reports: channel mix (API, page, Excel) and its 代收机构明细.

November 2026, posted payments (all of 3100000001, bureau A, unless said):

    代收点  CP001 东关邮政代收点    100.00 + 23.45 = 123.45 (2); its 5.00 reversed; its 8.00 on 1 Dec
    代收点  CP002 东关便民超市      10.00 (1)
    电话银行 PB001 农行电话银行      50.50 + 49.50 = 100.00 (2)
    支付宝                          30.00 (1)
    代收点  CPB1 西关代收点 (bureau B, 3200000001)  7.00 (1)

Bureau A's manager, 2026-11-01 … 2026-11-30: 代收点 3 payments 123.45 + 10.00 = 133.45, 电话银行 2 × 100.00,
支付宝 30.00; total 133.45 + 100.00 + 30.00 = 263.45; shares 133.45 / 263.45 = 50.65 %,
100.00 / 263.45 = 37.96 %, 30.00 / 263.45 = 11.39 %.
"""

import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from gridcare.core.audit import Actor
from gridcare.payments.channels import agents
from gridcare.payments.ledger import services
from gridcare.payments.models import Payment
from tests.payments.channels.test_agents import Key

D = Decimal
BJ = ZoneInfo("Asia/Shanghai")
QUERY = "date_from=2026-11-01&date_to=2026-11-30"


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=BJ)


@pytest.fixture
def book(world):
    made = {}
    for code, kind, name, unit in (
        ("CP001", "collection_point", "东关邮政代收点", world.bureau_a),
        ("CP002", "collection_point", "东关便民超市", world.bureau_a),
        ("PB001", "phone_bank", "农行电话银行", world.bureau_a),
        ("CPB1", "collection_point", "西关代收点", world.bureau_b),
    ):
        made[code] = agents.agent_add(
            actor=Actor(), code=code, name=name, kind=kind, unit=unit, public_key=Key().public_pem
        )

    def pay(code, txn, amount, when, number="3100000001"):
        paid = agents.agent_payment(
            agent=made[code],
            transaction_id=txn,
            account_number=number,
            amount=amount,
            paid_at=when.isoformat(),
            now=when + timedelta(hours=1),
        )
        return Payment.objects.get(pk=paid.answer["payment_id"])

    pay("CP001", "1", "100.00", at(11, 3))
    pay("CP001", "2", "23.45", at(11, 30))
    services.payment_reverse(actor=Actor(), payment=pay("CP001", "3", "5.00", at(11, 4)), reason="撤销")
    pay("CP001", "4", "8.00", at(12, 1))
    pay("CP002", "1", "10.00", at(11, 5))
    pay("PB001", "1", "50.50", at(11, 6))
    pay("PB001", "2", "49.50", at(11, 7))
    pay("CPB1", "1", "7.00", at(11, 8), number="3200000001")
    services.payment_record(
        actor=Actor(),
        channel="alipay",
        channel_txn_id="ALI-1",
        account_number="3100000001",
        amount="30.00",
        paid_at=at(11, 9),
    )
    return world


def test_channel_mix_api_has_both_channels(book, login):
    mix = login(book.a_manager).get(f"/api/v1/reports/channel-mix?{QUERY}").json()
    assert mix == [
        {"channel": "alipay", "payments": 1, "amount": "30.00"},
        {"channel": "collection_point", "payments": 3, "amount": "133.45"},
        {"channel": "phone_bank", "payments": 2, "amount": "100.00"},
    ]
    # The company's admin also sees bureau B's collection point: 133.45 + 7.00 = 140.45 in 4 payments
    mix = login(book.admin).get(f"/api/v1/reports/channel-mix?{QUERY}").json()
    assert {"channel": "collection_point", "payments": 4, "amount": "140.45"} in mix


def _cells(table_html: str) -> list[list[str]]:
    """Each row of an HTML table as its cells' text (whatever attributes the cells carry)."""
    import re

    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table_html, re.S)
    ]


def test_page_shows_chinese_labels_and_the_agents(book, login):
    page = login(book.a_manager).get(f"/payments/reports/?{QUERY}").content.decode()
    mix = page.split('data-testid="report-channel-mix"')[1]
    assert "代收点" in mix and "电话银行" in mix and "collection_point" not in mix and "phone_bank" not in mix
    table = mix.split('data-testid="table-channel-mix"')[1].split("</table>")[0]
    assert ["代收点", "3", "133.45", "50.65%"] in _cells(table)
    assert ["电话银行", "2", "100.00", "37.96%"] in _cells(table)
    detail = mix.split('data-testid="table-channel-mix-detail"')[1].split("</table>")[0]
    assert "<td>代收点</td><td>CP001</td><td>东关邮政代收点</td><td>2</td><td>123.45</td>" in detail
    assert "<td>代收点</td><td>CP002</td><td>东关便民超市</td><td>1</td><td>10.00</td>" in detail
    assert "<td>电话银行</td><td>PB001</td><td>农行电话银行</td><td>2</td><td>100.00</td>" in detail
    assert "西关代收点" not in detail  # bureau B's
    # 2 + 1 + 2 = 5 payments, 123.45 + 10.00 + 100.00 = 233.45
    assert "<th>5</th><th>233.45</th>" in detail
    # Without agent payments in the range, no detail table
    none = (
        login(book.a_manager)
        .get("/payments/reports/?date_from=2026-10-01&date_to=2026-10-31")
        .content.decode()
    )
    assert 'data-testid="table-channel-mix-detail"' not in none


def test_excel_export_has_the_channels_and_a_detail_sheet(book, login):
    resp = login(book.a_manager).get(f"/payments/reports/channel-mix/export.xlsx?{QUERY}")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.content))
    mix, detail = wb.worksheets
    rows = {r[0]: r for r in mix.iter_rows(min_row=5, values_only=True)}
    assert rows["代收点"][:3] == ("代收点", 3, 133.45) and rows["代收点"][3] == pytest.approx(0.5065)
    assert rows["电话银行"][:3] == ("电话银行", 2, 100) and rows["电话银行"][3] == pytest.approx(0.3796)
    assert rows["合计"] == ("合计", 6, 263.45, 1)
    assert (
        detail.title == "代收机构明细"
        and detail["A2"].value == "筛选条件：缴费日期：2026-11-01 至 2026-11-30"
    )
    assert list(detail.iter_rows(min_row=5, values_only=True)) == [
        ("代收点", "CP001", "东关邮政代收点", 2, 123.45),
        ("代收点", "CP002", "东关便民超市", 1, 10),
        ("电话银行", "PB001", "农行电话银行", 2, 100),
        ("合计", None, None, 5, 233.45),
    ]
