"""The credit policy page /credit/policy/ (credit.admin): the form, its validations (400 with each field's
message, nothing written), the audit row of a change, the permission matrix."""

from decimal import Decimal

import pytest

from gridcare.core.models import AuditEvent
from gridcare.core.permissions import Role
from gridcare.credit.choices import GRADE_ORDER
from gridcare.credit.models import CreditPolicy
from gridcare.credit.policy import current_policy
from tests.factories import UserFactory

URL = "/credit/policy/"


def form(**over) -> dict:
    """The default policy as the page posts it, with `over` replacing fields."""
    data = {
        "grace_days": "0",
        "dunning_advance_days": "15",
        "inspect_hv_months": "12",
        "inspect_important_months": "6",
        "inspect_lv_business_months": "36",
        "rectification_days": "30",
        "assessment_months": "12",
        "grade_aaa": "90.0",
        "grade_aa": "80.0",
        "grade_a": "70.0",
        "grade_b": "60.0",
        "grade_c": "50.0",
        "lighting_classes": ["residential"],
        "wrong_account_codes": "3001, 3002",
        "measures_AAA": ["deposit_waived", "priority_service"],
        "measures_AA": ["deposit_waived", "priority_service"],
        "measures_C": ["split_settlement", "dunning_earlier"],
        "measures_D": ["deposit_or_prepaid", "connection_flag"],
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def state() -> list:
    p = CreditPolicy.objects.get(pk=1)
    return [getattr(p, f.attname) for f in CreditPolicy._meta.concrete_fields]


def test_page_shows_the_policy(cw, login, django_assert_max_num_queries):
    current_policy()
    c = login(cw.admin)
    with django_assert_max_num_queries(8):
        r = c.get(URL)
    html = r.content.decode()
    assert r.status_code == 200
    assert 'name="grade_aaa" value="90.0"' in html and 'value="3001, 3002"' in html
    assert 'data-testid="measure-C-dunning_earlier" checked' in html
    assert 'data-testid="measure-B-dunning_earlier" checked' not in html
    assert '<option value="residential" selected>' in html
    assert 'data-testid="policy-save"' in html


def test_saving_changes_the_policy_and_audits_the_changed_fields(cw, login):
    current_policy()
    r = login(cw.admin).post(
        URL,
        form(
            grade_aaa="95",
            grace_days="5",
            lighting_classes=["residential", "agricultural"],
            measures_C=["dunning_earlier"],
            measures_B=["split_settlement"],
            wrong_account_codes="3001，4004 3001",
        ),
    )
    assert r.status_code == 302 and r["Location"] == URL
    p = CreditPolicy.objects.get(pk=1)
    assert p.grade_aaa == Decimal("95.0") and p.grace_days == 5
    assert p.lighting_classes == ["agricultural", "residential"]
    assert p.measures["C"] == ["dunning_earlier"] and p.measures["B"] == ["split_settlement"]
    assert p.wrong_account_codes == ["3001", "4004"]
    (ev,) = AuditEvent.objects.filter(action="credit.policy_update")
    assert ev.actor_id == cw.admin.pk and ev.channel == "console"
    assert set(ev.changes) == {
        "grade_aaa",
        "grace_days",
        "lighting_classes",
        "measures",
        "wrong_account_codes",
    }
    assert ev.changes["grade_aaa"] == ["90.0", "95.0"] and ev.changes["grace_days"] == [0, 5]
    # Saved unchanged: no new audit row.
    login(cw.admin).post(
        URL,
        form(
            grade_aaa="95",
            grace_days="5",
            lighting_classes=["residential", "agricultural"],
            measures_C=["dunning_earlier"],
            measures_B=["split_settlement"],
            wrong_account_codes="3001, 4004",
        ),
    )
    assert AuditEvent.objects.filter(action="credit.policy_update").count() == 1


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"grade_aa": "90"}, "grade_aa", "AA级最低分须低于AAA级最低分"),
        ({"grade_b": "75"}, "grade_b", "B级最低分须低于A级最低分"),
        ({"grade_aaa": "100.5"}, "grade_aaa", "分数线应大于 0 且不超过 100"),
        ({"grade_c": "0"}, "grade_c", "分数线应大于 0 且不超过 100"),
        ({"grade_c": "abc"}, "grade_c", "请输入分数"),
        ({"grade_c": "45.25"}, "grade_c", "最多保留1位小数"),
        ({"grace_days": "-3"}, "grace_days", "请输入整数"),
        ({"grace_days": ""}, "grace_days", "请输入整数"),
        ({"assessment_months": "18"}, "assessment_months", "应在 1 至 12 之间"),
        ({"rectification_days": "0"}, "rectification_days", "应在 1 至 365 之间"),
        ({"wrong_account_codes": "3001, 12345"}, "wrong_account_codes", "银行返回码应为4位数字"),
        ({"lighting_classes": ["street"]}, "lighting_classes", "未知的用电类别"),
        ({"measures_C": ["nonsense"]}, "measures", "未知的风险措施"),
    ],
)
def test_bad_values_400_with_the_field_message_and_nothing_written(cw, login, over, field, message):
    current_policy()
    before = state()
    r = login(cw.admin).post(URL, form(**over))
    html = r.content.decode()
    assert r.status_code == 400
    assert message in html
    if field != "measures":
        assert f'data-testid="error-{field}"' in html
    assert state() == before
    assert not AuditEvent.objects.filter(action="credit.policy_update").exists()


def test_permission_matrix(cw, login):
    current_policy()
    before = state()
    anon = login().get(URL)
    assert anon.status_code == 302 and "/login/" in anon["Location"]
    assert login().post(URL, form(grace_days="9")).status_code == 302
    customer = UserFactory(username="13700000009", role=Role.CUSTOMER, unit=None, phone="13700000009")
    for user in [customer, cw.inspector, cw.cmanager]:  # no credit.admin
        assert login(user).get(URL).status_code == 404
        assert login(user).post(URL, form(grace_days="9")).status_code == 404
    # A bureau's manager (credit.admin, another unit than the company): sees it read-only, may not save.
    r = login(cw.a_manager).get(URL)
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="policy-readonly"' in html
    assert 'data-testid="policy-save"' not in html and "<fieldset disabled>" in html
    assert login(cw.a_manager).post(URL, form(grace_days="9")).status_code == 403
    assert state() == before
    assert not AuditEvent.objects.filter(action="credit.policy_update").exists()


def test_every_grade_row_is_on_the_page(cw, login):
    html = login(cw.admin).get(URL).content.decode()
    for g in GRADE_ORDER:
        assert f'data-testid="measure-{g}-deposit_waived"' in html
