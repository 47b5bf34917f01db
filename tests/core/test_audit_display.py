"""Audit events for people: actions as Chinese labels, changes as rows 字段 / 原值 / 新值 with the models'
verbose names and choice labels (no JSON, no English codes), personal data masked unless revealed."""

from types import SimpleNamespace

import pytest

from gridcare.core.audit_display import ChangeRow, action_label, change_rows


def event(object_type, changes, action="x"):
    return SimpleNamespace(object_type=object_type, changes=changes, action=action)


def test_diff_pairs_use_verbose_names_and_choice_labels():
    rows = change_rows(
        event(
            "customers.customer",
            {"phone": ["13812345678", "13900002222"], "customer_class": ["residential", "commercial"]},
        )
    )
    assert rows == [
        ChangeRow("联系电话", "138****5678", "139****2222"),
        ChangeRow("用电类别", "居民生活", "一般工商业"),
    ]
    revealed = change_rows(
        event("customers.customer", {"phone": ["13812345678", "13900002222"]}), reveal=True
    )
    assert revealed == [ChangeRow("联系电话", "13812345678", "13900002222")]


def test_payment_channel_is_shown_by_its_label_not_its_code():
    rows = change_rows(
        event(
            "payments.payment",
            {"channel": "alipay", "channel_txn_id": "T1", "amount": "96.11", "account_number": "3100000001"},
        )
    )
    assert ChangeRow("缴费渠道", "—", "支付宝") in rows
    assert ChangeRow("金额(元)", "—", "96.11") in rows
    assert ChangeRow("户号", "—", "3100000001") in rows
    assert all("alipay" not in r.after for r in rows)


def test_snapshots_before_after_nested_and_booleans():
    rows = change_rows(
        event(
            "payments.prepaidaccount",
            {
                "account_number": "3100000001",
                "before": {"enrolled": True, "threshold_amount": "20.00"},
                "after": {"enrolled": False, "threshold_amount": None},
            },
        )
    )
    labels = {r.label: (r.before, r.after) for r in rows}
    assert ("是", "否") in labels.values()
    assert ("20.00", "—") in labels.values()
    created = change_rows(event("customers.customer", {"after": {"name": "张三丰", "kind": "person"}}))
    assert created == [ChangeRow("客户名称", "—", "张**"), ChangeRow("客户类型", "—", "个人")]
    nested = change_rows(
        event("billing.tariffversion", {"parameters": {"energy_price": "0.55", "pf_target": "0.90"}})
    )
    assert nested == [ChangeRow("电价参数", "—", "电度电价：0.55；功率因数考核标准：0.90")]


@pytest.mark.django_db
def test_lists_that_are_not_pairs_and_unknown_shapes():
    rows = change_rows(event("customers.account", {"reason": "transfer", "users": [3, 5]}))
    assert (
        ChangeRow("用户", "—", "用户#3、用户#5") in rows
    )  # users no longer on file: labelled, not bare ids  # two users dropped, not a before/after pair
    assert change_rows(event("", {})) == []
    assert change_rows(event("nope.model", {"weird_key": 1})) == [ChangeRow("weird_key", "—", "1")]


def test_action_labels():
    assert action_label("customer.update") == "修改客户资料"
    assert action_label("payment.record") == "缴费入账"
    assert action_label("tariff_version.create") == "新增电价版本"
    assert action_label("something.new") == "something.new"
