"""The tariff editor (电价编辑): a form per component, errors naming row and field, a preview through the rating
engine, save as a new effective-dated version; and the catalogue showing components instead of JSON."""

import html
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from gridcare.billing.models import TariffVersion
from gridcare.billing.rating import RatingError, parse_params
from gridcare.billing.tariff_editor import default_valid_from, params_to_data
from gridcare.core.models import AuditEvent

EDIT = "/billing/tariffs/{code}/versions/new/"


def state():
    return (list(TariffVersion.objects.order_by("pk").values()), AuditEvent.objects.count())


def errors_of(resp) -> list[str]:
    """The summary of errors at the top of the editor."""
    body = resp.content.decode()
    if 'data-testid="editor-errors"' not in body:
        return []
    block = body.split('data-testid="editor-errors"', 1)[1].split("</div>", 1)[0]
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", block)]


def preview_total(resp) -> str | None:
    m = re.search(r'data-testid="preview-total">([^<]*)<', resp.content.decode())
    return m[1] if m else None


def agr_data(**extra) -> dict[str, str]:
    """AGR-FLAT (0.50 yuan/kWh) as the editor starts from it, from 2027-01-01, plus `extra` form fields."""
    data = params_to_data({"energy_price": "0.50"})
    data["valid_from"] = "2027-01-01"
    data.update(extra)
    return data


def with_tiers(data, *rows) -> dict[str, str]:
    data = dict(data)
    data["tiers-TOTAL_FORMS"] = str(len(rows))
    for i, (start, end, surcharge) in enumerate(rows):
        data.update({f"tiers-{i}-start": start, f"tiers-{i}-end": end, f"tiers-{i}-surcharge": surcharge})
    return data


@pytest.fixture
def admin(world):
    c = Client()
    c.force_login(world.admin)
    return c


# ---------------------------------------------------------------- who may edit


@pytest.mark.parametrize("who", ["anonymous", "portal_user", "a_clerk", "a_agent", "a_manager", "b_clerk"])
def test_only_tariff_editors_open_or_post_the_editor(world, who):
    c = Client()
    if who != "anonymous":
        c.force_login(getattr(world, who))
    before = state()
    for url in (EDIT.format(code="AGR-FLAT"), EDIT.format(code="AGR-FLAT") + "json/"):
        get = c.get(url)
        post = c.post(url, {**agr_data(action="save"), "parameters": '{"energy_price": "0.55"}'})
        if who == "anonymous":
            assert get.status_code == 302 and "/login/" in get["Location"]
            assert post.status_code == 302 and "/login/" in post["Location"]
        else:  # customers and staff without tariff.edit: the same 404 as a missing tariff
            assert get.status_code == 404 and post.status_code == 404
    assert state() == before


def test_admin_opens_the_editor_for_every_demo_tariff_and_unknown_is_404(admin):
    for code in ("RES-TIER", "RES-TIER-TOU", "COM-FLAT", "COM-TOU", "LI-TWO-PART", "AGR-FLAT"):
        assert admin.get(EDIT.format(code=code)).status_code == 200
    assert admin.get(EDIT.format(code="NOPE")).status_code == 404


def test_editor_starts_from_the_current_version(admin):
    body = admin.get(EDIT.format(code="RES-TIER")).content.decode()
    # RES-TIER: 0.538 yuan/kWh, tiers 0–2760 (+0), 2760–4800 (+0.05), 4800 and above (+0.30)
    assert 'name="energy_price" value="0.538"' in body
    assert 'name="tiers-1-start" value="2760"' in body and 'name="tiers-1-end" value="4800"' in body
    assert 'name="tiers-2-surcharge" value="0.30"' in body
    assert "editor-errors" not in body  # a fresh form is not judged


# ---------------------------------------------------------------- bad input: errors name row and field, nothing written


def test_overlapping_tier_is_refused_with_the_row_named(admin):
    before = state()
    data = with_tiers(agr_data(action="save"), ("0", "100", "0"), ("90", "", "0.10"))
    resp = admin.post(EDIT.format(code="AGR-FLAT"), data)
    assert resp.status_code == 400
    assert errors_of(resp) == ["第2档：起始电量与上一档重叠"]
    assert state() == before


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            (("0", "100", "0"), ("120", "", "0.10")),
            "第2档：起始电量与上一档之间有空档（上一档截止于 100 kWh）",
        ),
        ((("10", "100", "0"), ("100", "", "0.10")), "第1档：第一档的起始电量须为 0"),
        ((("0", "100", "0"), ("100", "200", "0.10")), "第2档：最后一档的截止电量须留空（以上不封顶）"),
        ((("0", "", "0"), ("100", "", "0.10")), "第1档：只有最后一档可以不填截止电量"),
        ((("0", "100", "0"), ("100", "", "")), "第2档：加价未填写"),
        ((("0", "100", "0"), ("100", "", "-0.1")), "第2档：加价不能为负数"),
        ((("0", "100", "0"), ("100", "", "0.12345")), "第2档：加价最多 4 位小数"),
        ((("0", "100", "0"), ("100", "", "abc")), "第2档：加价不是有效的数字"),
        ((("0", "100", "0.05"), ("100", "", "0.10")), "第1档：第一档按电度电价计费，加价须为 0 或留空"),
        ((("0", "100", "0"), ("100", "50", "0.1"), ("50", "", "0.2")), "第2档：截止电量须大于起始电量"),
        ((("0", "", "0"),), "阶梯电价至少需要两档；不分档请删除全部档位"),
    ],
)
def test_bad_tiers_refused(admin, rows, message):
    before = state()
    resp = admin.post(EDIT.format(code="AGR-FLAT"), with_tiers(agr_data(action="save"), *rows))
    assert resp.status_code == 400
    assert message in errors_of(resp)
    assert state() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("energy_price", "-0.5", "电度电价不能为负数"),
        ("energy_price", "0.53812", "电度电价最多 4 位小数"),
        ("energy_price", "", "单一电价须填写电度电价"),
        ("basic_per_kva", "30.12345", "基本电价（按容量）最多 4 位小数"),
        ("valid_from", "", "请填写生效日期"),
        ("valid_to", "2026-12-31", "失效日期不能早于生效日期"),
    ],
)
def test_bad_single_values_refused(admin, field, value, message):
    before = state()
    resp = admin.post(EDIT.format(code="AGR-FLAT"), agr_data(action="save", **{field: value}))
    assert resp.status_code == 400
    assert message in errors_of(resp)
    assert state() == before


def tou_data(**extra) -> dict[str, str]:
    v = TariffVersion.objects.get(tariff__code="RES-TIER-TOU")
    data = params_to_data(v.parameters)  # peak 0.568 08:00-22:00, valley 0.288 22:00-08:00, the RES tiers
    data["valid_from"] = "2027-01-01"
    data.update(extra)
    return data


def test_tou_windows_must_cover_the_day_once(admin):
    before = state()
    url = EDIT.format(code="RES-TIER-TOU")
    resp = admin.post(url, tou_data(action="save", **{"windows-0-end": "21:00"}))
    assert resp.status_code == 400
    assert errors_of(resp) == ["分时时段未覆盖全天 24 小时，缺少：21:00-22:00"]
    resp = admin.post(url, tou_data(action="save", **{"windows-0-end": "23:00"}))
    assert errors_of(resp) == ["第2个时段：与第1个时段（高峰 08:00-23:00）重叠"]
    resp = admin.post(url, tou_data(action="save", **{"windows-1-start": "2200"}))
    assert errors_of(resp) == ["第2个时段：开始时间格式应为 HH:MM（如 08:00）"]
    resp = admin.post(url, tou_data(action="save", **{"tou_price_valley": ""}))
    assert "第2个时段：低谷没有填写电价" in errors_of(resp)
    resp = admin.post(url, tou_data(action="save", **{"tou_price_flat": "0.4"}))
    assert errors_of(resp) == ["平段已填写电价，但没有划分时段"]
    resp = admin.post(url, tou_data(action="save", **{"windows-TOTAL_FORMS": "0"}))
    assert errors_of(resp) == ["请划分分时时段，覆盖全天 24 小时"]
    assert state() == before


def test_tou_price_as_a_ratio_of_the_flat_price(admin):
    data = tou_data(
        action="save",
        tou_price_flat="0.6235",
        tou_price_peak="",
        tou_ratio_peak="1.5",
        **{
            "windows-TOTAL_FORMS": "3",
            "windows-0-period": "peak",
            "windows-0-start": "08:00",
            "windows-0-end": "12:00",
            "windows-1-period": "flat",
            "windows-1-start": "12:00",
            "windows-1-end": "22:00",
            "windows-2-period": "valley",
            "windows-2-start": "22:00",
            "windows-2-end": "08:00",
        },
    )
    resp = admin.post(EDIT.format(code="RES-TIER-TOU"), data)
    assert resp.status_code == 302, errors_of(resp)
    v = TariffVersion.objects.get(tariff__code="RES-TIER-TOU", valid_from=date(2027, 1, 1))
    # 0.6235 × 1.5 = 0.93525 → 0.9353 (half-up to 4 decimals)
    assert v.parameters["tou_prices"] == {"peak": "0.9353", "flat": "0.6235", "valley": "0.288"}
    assert v.parameters["tou_windows"] == {
        "peak": "08:00-12:00",
        "flat": "12:00-22:00",
        "valley": "22:00-08:00",
    }
    # price and ratio both, or a ratio without the flat price: refused
    resp = admin.post(EDIT.format(code="RES-TIER-TOU"), {**data, "tou_price_peak": "0.9"})
    assert "高峰：电价与倍数只能填写一项" in errors_of(resp)
    resp = admin.post(
        EDIT.format(code="RES-TIER-TOU"), {**data, "tou_price_flat": "", "valid_from": "2028-01-01"}
    )
    assert "高峰：按倍数计价须先填写平段电价" in errors_of(resp)


def test_duplicate_fund_code_refused(admin):
    before = state()
    data = agr_data(
        action="save",
        **{
            "funds-TOTAL_FORMS": "2",
            "funds-0-code": "gov_fund",
            "funds-0-label": "政府性基金及附加",
            "funds-0-price": "0.029",
            "funds-1-code": "gov_fund",
            "funds-1-label": "另一项",
            "funds-1-price": "0.01",
        },
    )
    resp = admin.post(EDIT.format(code="AGR-FLAT"), data)
    assert errors_of(resp) == ["第2项基金：代码与第1项基金重复"]
    resp = admin.post(EDIT.format(code="AGR-FLAT"), {**data, "funds-1-code": "x y", "funds-1-price": ""})
    assert errors_of(resp) == ["第2项基金：代码只能包含字母、数字和下划线", "第2项基金：单价未填写"]
    assert state() == before


def test_tampered_row_counts_answer_an_error_not_a_crash(admin):
    before = state()
    data = agr_data(action="save")
    del data["tiers-TOTAL_FORMS"]
    resp = admin.post(EDIT.format(code="AGR-FLAT"), data)
    assert resp.status_code == 400 and errors_of(resp)
    resp = admin.post(EDIT.format(code="AGR-FLAT"), {**agr_data(), "action": "del-tiers-x"})
    assert resp.status_code in (200, 400)
    assert state() == before


# ---------------------------------------------------------------- rows added and removed, preview, save


def test_add_and_remove_rows_keep_what_was_typed(admin):
    data = with_tiers(agr_data(), ("0", "100", "0"), ("100", "", "0.10"))
    resp = admin.post(EDIT.format(code="AGR-FLAT"), {**data, "action": "add-tiers"})
    body = resp.content.decode()
    assert resp.status_code == 200 and "editor-errors" not in body  # adding a row judges nothing
    assert 'name="tiers-TOTAL_FORMS" value="3"' in body
    assert 'name="tiers-0-end" value="100"' in body and 'name="tiers-2-start"' in body
    resp = admin.post(EDIT.format(code="AGR-FLAT"), {**data, "action": "del-tiers-0"})
    body = resp.content.decode()
    assert 'name="tiers-TOTAL_FORMS" value="1"' in body
    assert 'name="tiers-0-start" value="100"' in body and 'name="tiers-0-surcharge" value="0.10"' in body


def test_preview_rates_the_unsaved_two_part_version_by_hand(admin):
    v = TariffVersion.objects.get(tariff__code="LI-TWO-PART")
    data = params_to_data(v.parameters)
    data.update(
        {
            "valid_from": "2027-01-01",
            "action": "preview",
            "windows-TOTAL_FORMS": "4",
            **{
                f"windows-{i}-{k}": val
                for i, row in enumerate(
                    [
                        ("sharp", "19:00", "21:00"),
                        ("peak", "08:00", "19:00"),
                        ("flat", "21:00", "23:00"),
                        ("valley", "23:00", "08:00"),
                    ]
                )
                for k, val in zip(("period", "start", "end"), row, strict=True)
            },
            "sample-kwh_sharp": "1000",
            "sample-kwh_peak": "2000",
            "sample-kwh_flat": "3000",
            "sample-kwh_valley": "4000",
            "sample-capacity_kva": "500",
            "sample-power_factor": "0.85",
        }
    )
    before = state()
    resp = admin.post(EDIT.format(code="LI-TWO-PART"), data)
    assert resp.status_code == 200, errors_of(resp)
    # basic by capacity 500 × 30 = 15,000.00 (a whole month, January 2027)
    # energy 1000 × 1.14 + 2000 × 0.95 + 3000 × 0.62 + 4000 × 0.30 = 1140 + 1900 + 1860 + 1200 = 6,100.00
    # 力调: PF 0.85 against 0.90 → +0.5 % × 5 = +2.5 % of (15,000 + 6,100) = 527.50
    # funds 10,000 kWh × 0.029 = 290.00; total 15,000 + 6,100 + 527.50 + 290 = 21,917.50
    assert preview_total(resp) == "21,917.50"
    assert "试算期间 2027-01-01 至 2027-01-31" in resp.content.decode()
    assert state() == before  # a preview writes nothing
    # the sample is checked too: a preview without the capacity the two-part price needs says so
    resp = admin.post(EDIT.format(code="LI-TWO-PART"), {**data, "sample-capacity_kva": ""})
    assert resp.status_code == 400 and preview_total(resp) is None
    assert "试算：两部制电价须填写受电容量（kVA）或最大需量（kW）" in errors_of(resp)


def test_save_creates_a_new_version_closes_the_current_one_and_audits(admin, world):
    data = with_tiers(agr_data(action="save"), ("0", "100", "0"), ("100", "", "0.10"))
    data["tier_basis"] = "monthly"
    resp = admin.post(EDIT.format(code="AGR-FLAT"), data)
    assert resp.status_code == 302, errors_of(resp)
    old, new = TariffVersion.objects.filter(tariff__code="AGR-FLAT").order_by("valid_from")
    assert old.valid_to == date(2026, 12, 31) and new.valid_to is None
    assert new.parameters == {
        "energy_price": "0.50",
        "tiers": {"basis": "monthly", "thresholds": ["100"], "surcharges": ["0.10"]},
    }
    created = AuditEvent.objects.get(action="tariff_version.create")
    closed = AuditEvent.objects.get(action="tariff_version.close")
    assert created.actor == world.admin and created.channel == "console"
    assert created.changes["parameters"] == new.parameters
    assert closed.object_id == str(old.pk) and closed.changes["valid_to"] == [None, "2026-12-31"]
    # Without closing the current version the overlap is refused, by field, and nothing is written.
    before = state()
    data = agr_data(action="save", valid_from="2027-06-01")
    data.pop("close_current")
    resp = admin.post(EDIT.format(code="AGR-FLAT"), data)
    assert resp.status_code == 400
    assert errors_of(resp) == ["与已有版本 2027-01-01 至 长期 的有效期重叠"]
    assert state() == before


# ---------------------------------------------------------------- the catalogue and the JSON rules


def test_catalogue_shows_components_not_json(world):
    c = Client()
    c.force_login(world.a_clerk)
    body = html.unescape(c.get("/billing/tariffs/").content.decode())
    assert '"energy_price"' not in body and '"tou_prices"' not in body and "{" not in body.split("<main>")[1]
    res = body.split('data-testid="tariff-RES-TIER"')[1].split('data-testid="tariff-')[0]
    # tier 2: 2760 – 4800 kWh, +0.05, i.e. 0.538 + 0.05 = 0.588 yuan/kWh
    assert re.search(r"第2档</td><td>2760 – 4800</td><td>0.05</td><td>0.588</td>", res)
    assert "4800 以上" in res
    li = body.split('data-testid="tariff-LI-TWO-PART"')[1].split('data-testid="tariff-')[0]
    assert "30 元/千伏安·月" in li and "40 元/千瓦·月" in li and "减收 0.75%" in li
    assert "政府性基金及附加</th><td>0.029 元/kWh" in li


def test_parse_params_checks_windows_and_decimals():
    base = {"tou_prices": {"peak": "0.568", "valley": "0.288"}}
    assert parse_params(
        {**base, "tou_windows": {"peak": "08:00-22:00", "valley": ["22:00-24:00", "00:00-08:00"]}}
    )
    for windows, key in [
        ({"peak": "08:00-21:00", "valley": "22:00-08:00"}, "params.tou_windows"),
        ({"peak": "08:00-23:00", "valley": "22:00-08:00"}, "params.tou_windows"),
        ({"peak": "08:00-22:00"}, "params.tou_windows"),
        ({"peak": "8-22", "valley": "22:00-08:00"}, "params.tou_windows.peak"),
        ({"peak": "08:00-22:00", "flat": "22:00-08:00"}, "params.tou_windows.flat"),
    ]:
        with pytest.raises(RatingError) as exc:
            parse_params({**base, "tou_windows": windows})
        assert key in exc.value.errors, windows
    with pytest.raises(RatingError) as exc:
        parse_params({"energy_price": "0.53812"})
    assert exc.value.errors == {"params.energy_price": "最多 4 位小数"}
    with pytest.raises(RatingError) as exc:
        parse_params({"energy_price": "0.5", "tiers": {"thresholds": ["2760.001"], "surcharges": ["0.05"]}})
    assert exc.value.errors == {"params.tiers.thresholds": "最多 2 位小数"}


def test_api_refuses_a_price_with_five_decimals(admin):
    before = state()
    resp = admin.post(
        "/api/v1/billing/tariffs/AGR-FLAT/versions",
        data={"valid_from": "2030-01-01", "parameters": {"energy_price": "0.55555"}},
        content_type="application/json",
    )
    assert resp.status_code == 422
    assert resp.json()["detail"] == [{"field": "params.energy_price", "message": "最多 4 位小数"}]
    assert state() == before


# ---------------------------------------------------------------- the seeded TOU tariffs open, preview and save as they are


class _FormScraper(HTMLParser):
    """The fields a browser would submit from the editor page (inputs, checked boxes/radios, selected options)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value") or ""
            if "selected" in a:
                self.data[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.data.setdefault(self._select, self._first_option or "")
            self._select = None


def editor_form(resp) -> dict[str, str]:
    scraper = _FormScraper()
    scraper.feed(resp.content.decode())
    return scraper.data


@pytest.fixture
def on_2026_12_15(monkeypatch):
    """The editor's clock: today is 2026-12-15 (Asia/Shanghai), so a new version starts 2027-01-01."""
    real = timezone.localdate

    def localdate(value=None, timezone=None):
        return date(2026, 12, 15) if value is None else real(value, timezone)

    monkeypatch.setattr("gridcare.billing.views_tariffs.timezone.localdate", localdate)


def test_default_valid_from_is_the_first_of_next_month():
    assert default_valid_from(date(2026, 12, 15)) == date(2027, 1, 1)
    assert default_valid_from(date(2027, 1, 31)) == date(2027, 2, 1)
    assert default_valid_from(date(2027, 2, 1)) == date(2027, 3, 1)


def test_the_effective_date_starts_filled(admin, on_2026_12_15):
    body = admin.get(EDIT.format(code="AGR-FLAT")).content.decode()
    assert re.search(r'name="valid_from"[^>]*value="2027-01-01"', body)


def test_seeded_com_tou_previews_and_saves_unchanged(admin, on_2026_12_15):
    page = admin.get(EDIT.format(code="COM-TOU"))
    assert page.status_code == 200
    data = editor_form(page)
    assert data["valid_from"] == "2027-01-01" and data["windows-TOTAL_FORMS"] == "6"
    data.update({"action": "preview", "sample-kwh_sharp": "100", "sample-kwh_peak": "200"})
    data.update({"sample-kwh_flat": "300", "sample-kwh_valley": "400"})
    resp = admin.post(EDIT.format(code="COM-TOU"), data)
    assert resp.status_code == 200, errors_of(resp)
    # energy 100 × 1.18 + 200 × 1.05 + 300 × 0.65 + 400 × 0.32 = 118 + 210 + 195 + 128 = 651.00
    # funds 1000 kWh × 0.029 = 29.00; total 680.00
    assert preview_total(resp) == "680.00"
    # saving the unchanged form makes a new version with the same prices and the seeded windows
    resp = admin.post(EDIT.format(code="COM-TOU"), {**data, "action": "save"})
    assert resp.status_code == 302, errors_of(resp)
    new = TariffVersion.objects.get(tariff__code="COM-TOU", valid_from=date(2027, 1, 1))
    assert new.parameters["tou_prices"] == {"sharp": "1.18", "peak": "1.05", "flat": "0.65", "valley": "0.32"}
    assert parse_params(new.parameters).tou_windows["valley"] == ((23 * 60, 8 * 60),)


def test_seeded_two_part_tariff_previews_as_it_is(admin, on_2026_12_15):
    page = admin.get(EDIT.format(code="LI-TWO-PART"))
    data = editor_form(page)
    data.update({"action": "preview", "sample-capacity_kva": "500", "sample-power_factor": "0.85"})
    data.update({"sample-kwh_sharp": "1000", "sample-kwh_peak": "2000"})
    data.update({"sample-kwh_flat": "3000", "sample-kwh_valley": "4000"})
    resp = admin.post(EDIT.format(code="LI-TWO-PART"), data)
    assert resp.status_code == 200, errors_of(resp)
    # the same sum as test_preview_rates_the_unsaved_two_part_version_by_hand: 15,000 basic + 6,100 energy
    # + 527.50 力调 + 290 funds = 21,917.50, over January 2027
    assert preview_total(resp) == "21,917.50"
    assert "试算期间 2027-01-01 至 2027-01-31" in resp.content.decode()


def test_seeded_tou_versions_have_windows_covering_the_day(world):
    for code in ("COM-TOU", "LI-TWO-PART", "RES-TIER-TOU"):
        p = parse_params(TariffVersion.objects.get(tariff__code=code).parameters)
        minutes = sum((b - a) % (24 * 60) for spans in p.tou_windows.values() for a, b in spans)
        assert minutes == 24 * 60, code
