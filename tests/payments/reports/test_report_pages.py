"""Collection report pages and their Excel exports, against figures computed by hand from a small book.

Book (both accounts residential):
- 东关供电所 (bureau A): 3100000001's 2026-09 bill of 100.00, due 20 Oct 2026, paid in cash on 10 Oct
  (before the due date, so no late fee); 20.00 by Alipay on 25 Oct (nothing left to pay: credit);
  5.00 by WeChat on 2 Nov (outside October).
- 西关供电所 (bureau B): 3200000001's 2026-09 bill of 250.00, due 20 Oct 2026, unpaid; its 2026-06 bill of
  40.00, due 20 Jul 2026, unpaid.
"""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from gridcare.core.permissions import Role
from tests.factories import UserFactory
from tests.payments.ledger.test_ledger import issued_bill, pay

URL = "/payments/reports/"
QUERY = "?period=2026-09&as_of=2026-11-01&date_from=2026-10-01&date_to=2026-10-31"


def export_url(report: str, query: str = QUERY) -> str:
    return f"/payments/reports/{report}/export.xlsx{query}"


@pytest.fixture
def book(world):
    issued_bill(world.acct_a, "2026-09", "100.00", date(2026, 10, 20))
    issued_bill(world.acct_b, "2026-09", "250.00", date(2026, 10, 20))
    issued_bill(world.acct_b, "2026-06", "40.00", date(2026, 7, 20))
    pay("100.00", date(2026, 10, 10), "A-CASH")
    pay("20.00", date(2026, 10, 25), "A-ALI", channel="alipay")
    pay("5.00", date(2026, 11, 2), "A-WX", channel="wechat")
    return world


@pytest.fixture
def b_manager(world):
    return UserFactory(username="b_manager", role=Role.MANAGER, unit=world.bureau_b)


def sheet(resp):
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return load_workbook(io.BytesIO(resp.content)).active


def rows_of(ws, first: int = 5) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=first)]


# ---------------------------------------------------------------- the page


def test_page_shows_three_reports_with_hand_computed_figures(book, login):
    resp = login(book.admin).get(URL + QUERY)
    assert resp.status_code == 200
    html = resp.content.decode()
    # Collection rate 2026-09: A 100.00 of 100.00 = 100.00 %, B 0.00 of 250.00 = 0.00 %,
    # total 100.00 / 350.00 = 0.285714… → 28.57 %
    assert "28.57%" in html and "350.00" in html
    # Ageing on 1 Nov: B's 250.00 (12 days) in 0–30, B's 40.00 (20 Jul → 1 Nov = 104 days) in 91–365
    assert 'id="chart-arrears-ageing"' in html and "290.00" in html
    # Channel mix in October: cash 100.00 + Alipay 20.00 = 120.00 (WeChat's 2 Nov payment is outside)
    assert (
        "120.00" in html
        and "支付宝" in html
        and "微信支付" not in html.split('data-testid="report-channel-mix"')[1]
    )
    charts = resp.context["charts"]
    assert sorted(charts["collection-rate"]["rates"]) == [0.0, 100.0]
    assert charts["arrears-ageing"]["amounts"] == [250.0, 0.0, 40.0, 0.0]
    assert sorted(i["value"] for i in charts["channel-mix"]["items"]) == [20.0, 100.0]
    # echarts is served locally, never from a CDN
    assert "vendor/echarts/echarts.min.js" in html and "cdn" not in html.lower()
    assert 'href="/payments/reports/collection-rate/export.xlsx?' in html


def test_page_defaults_without_filters(book, login):
    resp = login(book.admin).get(URL)
    assert resp.status_code == 200
    assert resp.context["filters"]["period"] and resp.context["filters"]["as_of"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?period=2026-13", "collection-rate", "账期应为 YYYY-MM"),
        ("?period=abc", "collection-rate", "账期应为 YYYY-MM"),
        ("?as_of=2026-02-30", "arrears-ageing", "统计日期不是有效日期"),
        (
            "?date_from=2026-10-31&date_to=2026-10-01",
            "channel-mix",
            "开始日期 2026-10-31 晚于结束日期 2026-10-01",
        ),
        ("?date_from=yesterday", "channel-mix", "开始日期不是有效日期"),
    ],
)
def test_bad_filters_show_a_message_and_the_export_refuses(book, login, query, field, message):
    c = login(book.admin)
    resp = c.get(URL + query)
    assert resp.status_code == 400
    section = resp.content.decode().split(f'data-testid="report-{field}"')[1].split('class="card"')[0]
    assert message in section and f'data-testid="errors-{field}"' in section
    bad = c.get(export_url(field, query))
    assert bad.status_code == 400 and message in bad.content.decode()


def test_an_export_only_checks_its_own_filters(book, login):
    # A broken date range does not stop the collection-rate export, which needs only the period.
    resp = login(book.admin).get(export_url("collection-rate", "?period=2026-09&date_from=x"))
    assert sheet(resp).title == "电费回收率"


def test_unknown_report_is_404(book, login):
    assert login(book.admin).get(export_url("nonsense")).status_code == 404


# ---------------------------------------------------------------- the Excel files


def test_collection_rate_xlsx(book, login):
    ws = sheet(login(book.admin).get(export_url("collection-rate")))
    assert ws.title == "电费回收率"
    assert ws["A1"].value == "电费回收率"
    assert ws["A2"].value == "筛选条件：账期：2026-09"
    assert [c.value for c in ws[4]] == ["供电单位", "账单数", "应收电费(元)", "已收电费(元)", "回收率"]
    data = rows_of(ws)
    by_unit = {r[0]: r for r in data[:-1]}
    assert by_unit == {
        "东关供电所": ["东关供电所", 1, 100, 100, 1],
        "西关供电所": ["西关供电所", 1, 250, 0, 0],
    }
    # totals: 2 bills, 350.00 billed, 100.00 collected, 100 / 350 = 28.57 % stored as 0.2857
    assert data[-1][:4] == ["合计", 2, 350, 100] and data[-1][4] == pytest.approx(0.2857)
    assert ws.cell(row=5, column=3).number_format == "#,##0.00"  # thousands separators
    assert ws.cell(row=5, column=5).number_format == "0.00%"
    assert ws.cell(row=7, column=5).number_format == "0.00%"
    assert isinstance(ws.cell(row=7, column=3).value, int | float)


def test_arrears_ageing_xlsx(book, login):
    ws = sheet(login(book.admin).get(export_url("arrears-ageing")))
    assert ws.title == "欠费账龄" and ws["A2"].value == "筛选条件：统计日期：2026-11-01"
    assert [c.value for c in ws[4]] == ["账龄", "欠费账单数", "欠费本金(元)", "占比"]
    data = rows_of(ws)
    # 250 / 290 = 0.862068… → 86.21 %; 40 / 290 = 0.137931… → 13.79 %
    assert [r[:3] for r in data] == [
        ["0–30天", 1, 250],
        ["31–90天", 0, 0],
        ["91–365天", 1, 40],
        ["365天以上", 0, 0],
        ["合计", 2, 290],
    ]
    assert [r[3] for r in data] == pytest.approx([0.8621, 0, 0.1379, 0, 1])
    assert ws.cell(row=5, column=4).number_format == "0.00%"


def test_channel_mix_xlsx(book, login):
    ws = sheet(login(book.admin).get(export_url("channel-mix")))
    assert ws.title == "缴费渠道构成" and ws["A2"].value == "筛选条件：缴费日期：2026-10-01 至 2026-10-31"
    data = rows_of(ws)
    by_channel = {r[0]: r for r in data[:-1]}
    # cash 100.00 of 120.00 = 83.33 %, Alipay 20.00 of 120.00 = 16.67 %
    assert by_channel["柜台现金"][:3] == ["柜台现金", 1, 100] and by_channel["柜台现金"][3] == pytest.approx(
        0.8333
    )
    assert by_channel["支付宝"][:3] == ["支付宝", 1, 20] and by_channel["支付宝"][3] == pytest.approx(0.1667)
    assert data[-1] == ["合计", 2, 120, 1]
    assert ws.cell(row=5, column=3).number_format == "#,##0.00"  # thousands separators


def test_exports_are_unit_scoped(book, login, b_manager):
    # Bureau A's manager sees only 东关: 100.00 of 100.00
    ws = sheet(login(book.a_manager).get(export_url("collection-rate")))
    assert rows_of(ws) == [["东关供电所", 1, 100, 100, 1], ["合计", 1, 100, 100, 1]]
    ws = sheet(login(book.a_manager).get(export_url("arrears-ageing")))
    assert rows_of(ws)[-1] == ["合计", 0, 0, 0]
    # Bureau B's manager: 0 of 250.00; no payments in October
    ws = sheet(login(b_manager).get(export_url("collection-rate")))
    assert rows_of(ws) == [["西关供电所", 1, 250, 0, 0], ["合计", 1, 250, 0, 0]]
    ws = sheet(login(b_manager).get(export_url("channel-mix")))
    assert rows_of(ws) == [["合计", 0, 0, 0]]


# ---------------------------------------------------------------- permissions and query counts


@pytest.mark.parametrize(
    "path",
    [URL + QUERY, export_url("collection-rate"), export_url("arrears-ageing"), export_url("channel-mix")],
)
def test_permission_matrix(book, login, path):
    anonymous = login().get(path)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert login(book.portal_user).get(path).status_code == 404  # a customer
    assert login(book.a_clerk).get(path).status_code == 404  # staff without stats.view
    assert login(book.a_manager).get(path).status_code == 200  # with it (own unit's figures, tested above)
    assert login(book.admin).get(path).status_code == 200


def test_page_query_count_is_bounded(book, login, django_assert_max_num_queries):
    for n in range(10):  # ten more accounts' bills in bureau A do not add queries
        issued_bill(book.acct_a, f"2025-{n + 1:02d}", "10.00", date(2025, n + 2, 20))
    c = login(book.admin)
    with django_assert_max_num_queries(10):
        assert c.get(URL + QUERY).status_code == 200


# ---------------------------------------------------------------- the command line


def test_command_writes_the_same_workbook(book, tmp_path):
    out = tmp_path / "rate.xlsx"
    call_command(
        "payments_report",
        "collection-rate",
        "--user",
        "a_manager",
        "--period",
        "2026-09",
        "-o",
        str(out),
        stdout=io.StringIO(),
    )
    ws = load_workbook(out).active
    # Bureau A's manager: 东关 100.00 of 100.00 → 100 %
    assert ws.title == "电费回收率" and rows_of(ws) == [
        ["东关供电所", 1, 100, 100, 1],
        ["合计", 1, 100, 100, 1],
    ]
    out = tmp_path / "mix.xlsx"
    call_command(
        "payments_report",
        "channel-mix",
        "--user",
        "admin1",
        "--date-from",
        "2026-10-01",
        "--date-to",
        "2026-10-31",
        "-o",
        str(out),
        stdout=io.StringIO(),
    )
    assert rows_of(load_workbook(out).active)[-1] == ["合计", 2, 120, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collection-rate", "--user", "a_manager", "--period", "2026-13"], "账期应为 YYYY-MM"),
        (
            ["channel-mix", "--user", "a_manager", "--date-from", "2026-10-31", "--date-to", "2026-10-01"],
            "晚于结束日期",
        ),
        (["arrears-ageing", "--user", "a_clerk"], "无权查看统计报表"),
        (["arrears-ageing", "--user", "nobody"], "不存在"),
    ],
)
def test_command_refuses_bad_input(book, tmp_path, args, message):
    out = tmp_path / "x.xlsx"
    with pytest.raises(CommandError, match=message):
        call_command("payments_report", *args, "-o", str(out))
    assert not out.exists()
