"""Credit reports (issue 17 §5): grade distribution by unit / class / month, movers, the D list — figures worked
out by hand from the rows made here, scoping by unit, the pages (query guard, paging, charts, Excel).

The data (`rep`): three finished monthly runs (2026-10, -11, -12, as of the 1st), a failed monthly run (2026-09)
and an on-demand run, both ignored. Grades by run:

| customer | unit | class | 10 | 11 | 12 |
|---|---|---|---|---|---|
| cust_a (张三) | station A1 | lighting | A | A | B |
| power_a (东关机械厂) | station A1 | power | AA | B | D (45.0) |
| a2 | station A1 | lighting | C | C | AAA |
| a3 | station A1 | lighting | – | – | A |
| a_direct | bureau A itself | power | B | D | C |
| cust_b (李四) | station B1 | lighting | AAA | AAA | D (30.0) |
| b2 | station B1 | power | A | A | A |
"""

import json
import re
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from gridcare.core.permissions import Role
from gridcare.credit import reports
from gridcare.credit.models import CreditScore
from gridcare.credit.policy import current_policy
from tests.factories import CustomerFactory, UserFactory, valid_uscc

from .reports_helpers import make_run, make_score

POWER_REASONS = [
    {
        "name": "payment",
        "score": 10.5,
        "reasons": [
            {"code": "arrears", "date": "2026-05-20", "points": -20, "ref": 11},
            {"code": "arrears_cleared_next_month", "date": "2026-06-10", "points": 0.5, "ref": 12},
        ],
    },
    {
        "name": "legal",
        "score": 0,
        "reasons": [{"code": "theft", "date": "2026-06-01", "points": -30, "ref": 13}],
    },
]
B_REASONS = [
    {"code": "facility_damage", "date": "2026-03-02", "points": None, "ref": 21},
    {"code": "report_cooperation", "date": "2026-04-02", "points": 10, "ref": 22},
]


@pytest.fixture
def rep(cw):
    w = cw
    w.a2 = CustomerFactory(name="王五", unit=w.station_a)
    w.a3 = CustomerFactory(name="赵六", unit=w.station_a)
    w.a_direct = CustomerFactory(
        name="城东水厂",
        kind="organisation",
        id_number=valid_uscc(31),
        unit=w.bureau_a,
        customer_class="large_industry",
        segment="sme",
    )
    w.b2 = CustomerFactory(
        name="西关砖厂",
        kind="organisation",
        id_number=valid_uscc(32),
        unit=w.station_b,
        customer_class="commercial",
        segment="sme",
    )
    make_run("2026-09", date(2026, 9, 1), status="failed")
    w.oct = make_run("2026-10", date(2026, 10, 1))
    w.nov = make_run("2026-11", date(2026, 11, 1))
    w.dec = make_run("2026-12", date(2026, 12, 1))
    single = make_run("2026-12", date(2026, 12, 5), kind="single")
    grades = {
        "cust_a": ("A", "A", "B"),
        "power_a": ("AA", "B", "D"),
        "a2": ("C", "C", "AAA"),
        "a3": (None, None, "A"),
        "a_direct": ("B", "D", "C"),
        "cust_b": ("AAA", "AAA", "D"),
        "b2": ("A", "A", "A"),
    }
    w.scores = {}
    for name, gs in grades.items():
        customer = getattr(w, name)
        for run, g in zip((w.oct, w.nov, w.dec), gs, strict=True):
            if g is None:
                continue
            extra = {}
            if name == "power_a" and run is w.dec:
                extra = {"total": "45.0", "payment": "10.5", "legal": "0.0", "reasons": POWER_REASONS}
            if name == "cust_b" and run is w.nov:
                extra = {"reasons": B_REASONS}
            if name == "cust_b" and run is w.dec:
                extra = {"total": "30.0", "legal": "0.0", "reasons_from": w.scores[("cust_b", "2026-11")]}
            w.scores[(name, run.period)] = make_score(run, customer, g, **extra)
    # An on-demand score after the December run: not a monthly run, so in no report.
    make_score(single, w.cust_a, "D", total="10.0")
    current_policy()  # the policy row exists (made on first read otherwise)
    return w


def counts(**kw) -> dict:
    return {g: kw.get(g, 0) for g in ["AAA", "AA", "A", "B", "C", "D"]}


# ---------------------------------------------------------------- grade distribution


def test_distribution_for_the_company_by_bureau_class_and_month(rep):
    doc = reports.grade_distribution(user=rep.admin)
    assert doc["month"] == "2026-12" and doc["months"] == ["2026-12", "2026-11", "2026-10"]
    rows = {r["unit"]["name"]: (r["counts"], r["total"]) for r in doc["rows"]}
    # Bureau A: cust_a B, power_a D, a2 AAA, a3 A (station A1) and a_direct C (bureau A itself).
    assert rows == {
        "城东供电局": (counts(AAA=1, A=1, B=1, C=1, D=1), 5),
        "城西供电局": (counts(A=1, D=1), 2),
    }
    assert doc["total"]["counts"] == counts(AAA=1, A=2, B=1, C=1, D=2) and doc["total"]["total"] == 7
    by_class = {r["rated_class"]: (r["counts"], r["total"]) for r in doc["by_class"]}
    # Lighting (residential): cust_a B, a2 AAA, a3 A, cust_b D; power: power_a D, a_direct C, b2 A.
    assert by_class == {
        "lighting": (counts(AAA=1, A=1, B=1, D=1), 4),
        "power": (counts(A=1, C=1, D=1), 3),
    }
    trend = {t["month"]: t for t in doc["trend"]}
    assert list(trend) == ["2026-10", "2026-11", "2026-12"]
    # October: six customers, AAA 1, AA 1, A 2, B 1, C 1 → 16.7 %, 16.7 %, 33.3 %, 16.7 %, 16.7 %, 0.0 %.
    assert trend["2026-10"]["counts"] == counts(AAA=1, AA=1, A=2, B=1, C=1)
    assert {g: str(v) for g, v in trend["2026-10"]["shares"].items()} == {
        "AAA": "16.7",
        "AA": "16.7",
        "A": "33.3",
        "B": "16.7",
        "C": "16.7",
        "D": "0.0",
    }
    # December: 7 customers; 1/7 = 14.29 → 14.3, 2/7 = 28.57 → 28.6.
    assert {g: str(v) for g, v in trend["2026-12"]["shares"].items()} == {
        "AAA": "14.3",
        "AA": "0.0",
        "A": "28.6",
        "B": "14.3",
        "C": "14.3",
        "D": "28.6",
    }


def test_distribution_for_a_bureau_splits_by_station_and_the_bureau_itself(rep):
    doc = reports.grade_distribution(user=rep.a_manager)
    rows = [(r["unit"]["name"], r["counts"], r["total"]) for r in doc["rows"]]
    assert rows == [
        ("东关供电所", counts(AAA=1, A=1, B=1, D=1), 4),
        ("城东供电局", counts(C=1), 1),  # a_direct, attached to the bureau itself
    ]
    assert doc["total"]["total"] == 5  # bureau B's customers are not seen


def test_distribution_filters_class_month_and_trend_range(rep):
    doc = reports.grade_distribution(
        user=rep.admin, rated_class="power", month="2026-11", date_from="2026-11", date_to="2026-12"
    )
    # November, power only: power_a B, a_direct D (bureau A), b2 A (bureau B).
    rows = {r["unit"]["name"]: r["counts"] for r in doc["rows"]}
    assert rows == {"城东供电局": counts(B=1, D=1), "城西供电局": counts(A=1)}
    assert [r["rated_class"] for r in doc["by_class"]] == ["power"]
    assert [t["month"] for t in doc["trend"]] == ["2026-11", "2026-12"]
    assert doc["trend"][1]["counts"] == counts(A=1, C=1, D=1)


def test_distribution_of_a_station_is_one_row(rep):
    doc = reports.grade_distribution(user=rep.admin, unit_id=str(rep.station_b.pk))
    assert [(r["unit"]["name"], r["total"]) for r in doc["rows"]] == [("西关供电所", 2)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "26-11"}, "month"),
        ({"month": "2026-08"}, "month"),  # no finished monthly run that month
        ({"month": "2026-09"}, "month"),  # the failed run does not count
        ({"rated_class": "industrial"}, "rated_class"),
        ({"unit_id": "abc"}, "unit_id"),
        ({"date_from": "2026-12", "date_to": "2026-10"}, "to"),
        ({"date_from": "2020-01", "date_to": "2026-12"}, "from"),
    ],
)
def test_distribution_bad_filters_name_the_field(rep, kwargs, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        reports.grade_distribution(user=rep.admin, **kwargs)
    assert field in exc.value.message_dict


def test_distribution_unit_outside_the_subtree_is_not_found(rep):
    from django.http import Http404

    with pytest.raises(Http404):
        reports.grade_distribution(user=rep.a_manager, unit_id=str(rep.bureau_b.pk))
    with pytest.raises(Http404):
        reports.grade_distribution(user=rep.a_manager, unit_id="999999")


def test_distribution_without_runs_is_empty(cw):
    doc = reports.grade_distribution(user=cw.admin)
    assert doc["month"] is None and doc["rows"] == [] and doc["trend"] == []


# ---------------------------------------------------------------- movers


def _movers(user, **kw):
    result = reports.movers(user=user, **kw)
    return [
        (r["customer_id"], r["before"], r["after"], r["direction"], r["steps"])
        for r in reports.mover_rows(list(result.rows))
    ]


def test_movers_between_the_latest_two_runs_largest_move_first(rep):
    w = rep
    rows = _movers(w.admin)
    # Nov → Dec: cust_b AAA→D fell 5; a2 C→AAA rose 4; power_a B→D fell 2; cust_a A→B fell 1 and a_direct D→C
    # rose 1 (a fall before a rise of the same size); b2 unchanged and a3 (new) are not movers.
    assert rows == [
        (w.cust_b.pk, "AAA", "D", "down", 5),
        (w.a2.pk, "C", "AAA", "up", 4),
        (w.power_a.pk, "B", "D", "down", 2),
        (w.cust_a.pk, "A", "B", "down", 1),
        (w.a_direct.pk, "D", "C", "up", 1),
    ]
    result = reports.movers(user=w.admin)
    assert (result.before.period, result.after.period) == ("2026-11", "2026-12")


def test_movers_filters_direction_class_unit_and_months(rep):
    w = rep
    assert [r[0] for r in _movers(w.admin, direction="up")] == [w.a2.pk, w.a_direct.pk]
    assert [r[0] for r in _movers(w.admin, direction="down", rated_class="power")] == [w.power_a.pk]
    assert [r[0] for r in _movers(w.a_manager)] == [w.a2.pk, w.power_a.pk, w.cust_a.pk, w.a_direct.pk]
    assert [r[0] for r in _movers(w.admin, unit_id=str(w.station_b.pk))] == [w.cust_b.pk]
    # Oct → Dec: cust_b 5 down; power_a AA→D 4 down before a2 C→AAA 4 up; cust_a A→B and a_direct B→C 1 down.
    rows = _movers(w.admin, date_from="2026-10", date_to="2026-12")
    assert rows == [
        (w.cust_b.pk, "AAA", "D", "down", 5),
        (w.power_a.pk, "AA", "D", "down", 4),
        (w.a2.pk, "C", "AAA", "up", 4),
        (w.cust_a.pk, "A", "B", "down", 1),
        (w.a_direct.pk, "B", "C", "down", 1),
    ]
    # Only `from`: compared with the latest run; only `to`: with the run before it.
    assert _movers(w.admin, date_from="2026-10") == rows
    assert [r[0] for r in _movers(w.admin, date_to="2026-11")] == [w.power_a.pk, w.a_direct.pk]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"date_from": "2026-12", "date_to": "2026-11"}, "from"),
        ({"date_from": "2026-11", "date_to": "2026-11"}, "from"),
        ({"date_to": "2027-01"}, "to"),
        ({"date_from": "2026-7"}, "from"),
    ],
)
def test_movers_bad_filters(rep, kwargs, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        reports.movers(user=rep.admin, **kwargs)
    assert field in exc.value.message_dict


def test_movers_with_one_run_is_empty(cw):
    make_run("2026-12", date(2026, 12, 1))
    result = reports.movers(user=cw.admin)
    assert result.before is None and list(result.rows) == []


# ---------------------------------------------------------------- the D list


def test_d_list_with_measures_and_reasons(rep):
    w = rep
    result = reports.d_list(user=w.admin)
    assert result.run.period == "2026-12"
    assert result.measures == ["deposit_or_prepaid", "connection_flag"]
    rows = reports.d_rows(list(result.rows), result.measures)
    # Lowest total first: cust_b 30.0, then power_a 45.0.
    assert [(r["customer_id"], str(r["total"])) for r in rows] == [
        (w.cust_b.pk, "30.0"),
        (w.power_a.pk, "45.0"),
    ]
    b, p = rows
    assert (
        b["customer_name"] == "李*" and p["customer_name"] == "东关机械厂"
    )  # a person masked, a company not
    assert p["measure_labels"] == ["新增容量前须交保证金或预付费", "新装增容申请标记风险"]
    # power_a's own reasons: the losses, largest first; the +0.5 bonus left out.
    assert p["reasons"] == "窃电 2026-06-01 −30；拖欠电费 2026-05-20 −20"
    # cust_b's December score points at its November one: facility damage zeroes the legal dimension.
    assert b["reasons"] == "破坏或危害电力设施 2026-03-02 该项清零"


def test_d_list_scoping_month_and_policy_measures(rep):
    w = rep
    assert [s.customer_id for s in reports.d_list(user=w.a_manager).rows] == [w.power_a.pk]
    assert [s.customer_id for s in reports.d_list(user=w.b_manager).rows] == [w.cust_b.pk]
    assert [s.customer_id for s in reports.d_list(user=w.admin, month="2026-11").rows] == [w.a_direct.pk]
    assert list(
        reports.d_list(user=w.admin, rated_class="lighting").rows.values_list("customer_id", flat=True)
    ) == [w.cust_b.pk]
    p = current_policy()
    p.measures = {**p.measures, "D": ["connection_flag"]}
    p.save()
    assert reports.d_list(user=w.admin).measures == ["connection_flag"]


def test_reasons_summary_shapes():
    assert reports.reasons_summary(None) == ""
    assert reports.reasons_summary(
        {"payment": [{"code": "arrears", "date": "2026-01-02", "points": "-10"}]}
    ) == ("拖欠电费 2026-01-02 −10")
    many = [{"code": "accident", "date": f"2026-0{i}-01", "points": -5} for i in range(1, 8)]
    assert reports.reasons_summary(many).endswith("；另 2 项")


# ---------------------------------------------------------------- pages


def _chart(html: str) -> dict:
    m = re.search(r'<script id="credit-grades-chart" type="application/json">(.*?)</script>', html, re.S)
    assert m, "chart data missing"
    return json.loads(m.group(1))


def test_grades_page_tables_charts_and_query_guard(rep, login, django_assert_max_num_queries):
    c = login(rep.admin)
    with django_assert_max_num_queries(13):
        r = c.get("/credit/reports/grades/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="chart-units"' in html and "vendor/echarts/echarts.min.js" in html
    assert "credit/reports.js" in html
    chart = _chart(html)
    assert chart["units"] == ["城东供电局", "城西供电局"]
    assert chart["stacks"]["D"] == [1, 1] and chart["stacks"]["AAA"] == [1, 0]
    assert chart["months"] == ["2026-10", "2026-11", "2026-12"]
    assert chart["shares"]["A"] == [33.3, 33.3, 28.6]  # Oct 2/6, Nov 2/6, Dec 2/7
    assert f'data-testid="unit-row-{rep.bureau_a.pk}"' in html


def test_grades_page_bad_filter_is_400_with_message(rep, login):
    r = login(rep.admin).get("/credit/reports/grades/?month=2026-13")
    assert r.status_code == 400 and "月份格式应为" in r.content.decode()
    assert login(rep.admin).get("/credit/reports/grades.xlsx?month=2026-13").status_code == 400


def _xlsx(resp):
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in resp["Content-Disposition"]
    return load_workbook(BytesIO(b"".join(resp.streaming_content)))


def test_grades_excel(rep, login):
    wb = _xlsx(login(rep.admin).get("/credit/reports/grades.xlsx"))
    assert wb.sheetnames == ["按单位", "按客户分类", "按月趋势"]
    rows = list(wb["按单位"].iter_rows(values_only=True))
    assert rows[1] == ("供电单位", "AAA", "AA", "A", "B", "C", "D", "合计")
    assert rows[2] == ("城东供电局", 1, 0, 1, 1, 1, 1, 5)
    assert rows[3] == ("城西供电局", 0, 0, 1, 0, 0, 1, 2)
    assert rows[4] == ("合计", 1, 0, 2, 1, 1, 2, 7)
    trend = list(wb["按月趋势"].iter_rows(values_only=True))
    assert trend[3][0] == "2026-12" and trend[3][8:] == (14.3, 0.0, 28.6, 14.3, 14.3, 28.6)


def test_movers_page_and_excel(rep, login, django_assert_max_num_queries):
    c = login(rep.a_manager)
    with django_assert_max_num_queries(13):
        r = c.get("/credit/reports/movers/?direction=down")
    html = r.content.decode()
    assert r.status_code == 200
    assert (
        f'data-testid="mover-{rep.power_a.pk}"' in html and f'data-testid="mover-{rep.cust_b.pk}"' not in html
    )
    assert f'data-testid="mover-{rep.a2.pk}"' not in html  # rose
    wb = _xlsx(c.get("/credit/reports/movers.xlsx?direction=down"))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "客户编号",
        "客户名称",
        "供电单位",
        "客户分类",
        "原等级",
        "现等级",
        "方向",
        "变动级数",
    )
    assert [r[:8] for r in rows[1:]] == [
        (rep.power_a.pk, "东关机械厂", "东关供电所", "动力户", "B", "D", "下降", 2),
        (rep.cust_a.pk, "张*", "东关供电所", "照明户", "A", "B", "下降", 1),
    ]
    assert r.status_code == 200


def test_d_list_page_and_excel(rep, login):
    c = login(rep.admin)
    r = c.get("/credit/reports/d-list/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "新增容量前须交保证金或预付费" in html
    assert f'data-testid="d-reasons-{rep.power_a.pk}">窃电 2026-06-01 −30；拖欠电费 2026-05-20 −20<' in html
    wb = _xlsx(c.get("/credit/reports/d-list.xlsx"))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0] == (
        "客户编号",
        "客户名称",
        "供电单位",
        "客户分类",
        "总分",
        "付款记录",
        "法律信用",
        "风险措施",
        "扣分原因",
    )
    assert rows[1] == (
        rep.cust_b.pk,
        "李*",
        "西关供电所",
        "照明户",
        30.0,
        30.0,
        0.0,
        "新增容量前须交保证金或预付费、新装增容申请标记风险",
        "破坏或危害电力设施 2026-03-02 该项清零",
    )
    assert rows[2][0] == rep.power_a.pk and len(rows) == 3


def test_d_list_page_paginates_with_bounded_queries(rep, login, django_assert_max_num_queries):
    extra = [CustomerFactory(unit=rep.station_a) for _ in range(55)]
    CreditScore.objects.bulk_create(
        [
            CreditScore(
                run=rep.dec,
                customer=c,
                unit_id_at=c.unit_id,
                as_of=rep.dec.as_of,
                rated_class="lighting",
                payment=0,
                legal=30,
                total="40.0",
                grade="D",
                digest="x",
                reasons=[{"code": "arrears", "date": "2026-10-21", "points": -30}],
            )
            for c in extra
        ]
    )
    c = login(rep.a_manager)
    with django_assert_max_num_queries(13):
        r1 = c.get("/credit/reports/d-list/")
    html = r1.content.decode()
    # 55 + power_a = 56 in bureau A: 50 on page 1, 6 on page 2.
    assert html.count('data-testid="d-reasons-') == 50 and "共 56 户，第 1/2 页" in html
    with django_assert_max_num_queries(13):
        r2 = c.get("/credit/reports/d-list/?page=2")
    assert r2.content.decode().count('data-testid="d-reasons-') == 6
    assert c.get("/credit/reports/d-list/?page=0").status_code == 400
    wb = _xlsx(c.get("/credit/reports/d-list.xlsx"))
    assert wb.active.max_row == 57  # the header and 56 rows


# ---------------------------------------------------------------- permission matrix of the pages

PAGES = [
    "/credit/reports/grades/",
    "/credit/reports/movers/",
    "/credit/reports/d-list/",
    "/credit/reports/grades.xlsx",
    "/credit/reports/movers.xlsx",
    "/credit/reports/d-list.xlsx",
]


@pytest.mark.parametrize("url", PAGES)
def test_page_permission_matrix(rep, login, url):
    w = rep
    anon = login().get(url)
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    customer = UserFactory(username="13700000009", role=Role.CUSTOMER, unit=None, phone="13700000009")
    assert login(customer).get(url).status_code == 404
    cashier = UserFactory(username="a_cashier", role=Role.CASHIER, unit=w.bureau_a)  # no credit.view
    assert login(cashier).get(url).status_code == 404
    # Other unit: bureau B's inspector asking for bureau A's unit.
    assert login(w.b_inspector).get(f"{url}?unit_id={w.bureau_a.pk}").status_code == 404
    assert login(w.inspector).get(url).status_code == 200


def test_bureau_b_user_does_not_see_bureau_a_customers(rep, login):
    html = login(rep.b_inspector).get("/credit/reports/d-list/").content.decode()
    assert f'data-testid="d-{rep.cust_b.pk}"' in html and f'data-testid="d-{rep.power_a.pk}"' not in html
    html = login(rep.b_inspector).get("/credit/reports/movers/").content.decode()
    assert f'data-testid="mover-{rep.cust_b.pk}"' in html and f'data-testid="mover-{rep.a2.pk}"' not in html
    doc = reports.grade_distribution(user=rep.b_inspector)
    assert doc["total"]["total"] == 2


def test_d_list_excel_stops_at_the_row_cap_with_a_note(rep, login, monkeypatch):
    """Past EXPORT_MAX_ROWS the sheet ends with a note to narrow the filters (here the cap is set to 0 so that the
    D customers of the fixture exceed it): no data row, the note names how many there were."""
    from gridcare.credit import reports

    d_count = len(list(_xlsx(login(rep.admin).get("/credit/reports/d-list.xlsx")).active.iter_rows())) - 1
    assert d_count >= 1
    monkeypatch.setattr(reports, "EXPORT_MAX_ROWS", 0)
    rows = list(_xlsx(login(rep.admin).get("/credit/reports/d-list.xlsx")).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0].startswith(f"共 {d_count} 行，仅导出前 0 行")
