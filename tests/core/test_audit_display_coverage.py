"""Every audit action written anywhere in the source has a Chinese label, every literal key of `changes` a
Chinese field label, and values show as people read them (local time, choice labels, usernames, 是/否).

The source is walked with `ast`, so an action or key added later without a label fails here."""

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from gridcare.core.audit_display import ACTION_LABELS, KEY_LABELS, ChangeRow, action_label, change_rows

SRC = Path(__file__).resolve().parents[2] / "src" / "gridcare"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _name(func) -> str:
    return getattr(func, "id", None) or getattr(func, "attr", "")


def _audit_calls():
    """(file, call) for every audit_record(...) call, plus wrappers that pass their `action` parameter on."""
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) == "audit_record":
                yield path, tree, node


def _constants_assigned(tree, name: str) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = []
                if isinstance(target, ast.Name) and target.id == name:
                    pairs.append(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += [
                        v
                        for t, v in zip(target.elts, node.value.elts, strict=False)
                        if getattr(t, "id", "") == name
                    ]
                out |= {v.value for v in pairs if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return out


def _wrapper_actions(tree, func_name: str, index: int) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) == func_name:
            arg = (
                node.args[index]
                if len(node.args) > index
                else next((k.value for k in node.keywords if k.arg == "action"), None)
            )
            assert isinstance(arg, ast.Constant), f"{func_name}: action must be a literal"
            out.add(arg.value)
    return out


def source_actions() -> set[str]:
    actions: set[str] = set()
    for path, tree, call in _audit_calls():
        value = next((k.value for k in call.keywords if k.arg == "action"), None)
        where = f"{path.relative_to(SRC)}:{call.lineno}"
        if isinstance(value, ast.Constant):
            actions.add(value.value)
        elif isinstance(value, ast.IfExp) and all(
            isinstance(v, ast.Constant) for v in (value.body, value.orelse)
        ):
            actions |= {value.body.value, value.orelse.value}
        elif isinstance(value, ast.JoinedStr):  # collections.{kind}_done, workorder.{action}
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in value.values)
            if text.startswith("workorder."):
                from gridcare.service.lifecycle import ACTION_TO_STEP, SIDE_ACTIONS

                kinds = {*ACTION_TO_STEP, *SIDE_ACTIONS}
            else:
                kinds = {"disconnect", "reconnect"}
            actions |= {text.format(k) for k in kinds}
        elif isinstance(value, ast.Name):
            wrappers = [
                f
                for f in ast.walk(tree)
                if isinstance(f, ast.FunctionDef)
                and f.lineno <= call.lineno <= f.end_lineno
                and value.id in [a.arg for a in f.args.args]
            ]
            if wrappers:
                params = [a.arg for a in wrappers[0].args.args]
                actions |= _wrapper_actions(tree, wrappers[0].name, params.index(value.id))
            else:
                found = _constants_assigned(tree, value.id)
                assert found, f"{where}: cannot tell the action"
                actions |= found
        else:
            pytest.fail(f"{where}: the action is not a literal the test can read")
    return actions


def source_change_keys() -> set[str]:
    keys = set()
    for _path, _tree, call in _audit_calls():
        for kw in call.keywords:
            if kw.arg == "changes":
                for d in ast.walk(kw.value):
                    if isinstance(d, ast.Dict):
                        keys |= {k.value for k in d.keys if isinstance(k, ast.Constant)}
    return keys


def test_the_walk_finds_the_actions_it_should():
    actions = source_actions()
    # A few written through a variable or a helper, so the walk itself is checked.
    assert {
        "payment.counter_receipt",
        "prepaid.update",
        "meter_read.correct",
        "collections.reconnect_done",
    } <= actions
    assert len(actions) > 60


def test_every_action_in_the_source_has_a_chinese_label():
    missing = sorted(a for a in source_actions() if not CJK.search(action_label(a)))
    assert missing == []
    assert all(CJK.search(str(v)) for v in ACTION_LABELS.values())


def test_every_literal_changes_key_has_a_chinese_label():
    missing = sorted(k for k in source_change_keys() if k not in KEY_LABELS)
    assert missing == []
    assert all(CJK.search(str(v)) for v in KEY_LABELS.values())


def ev(object_type, changes, action="x"):
    return SimpleNamespace(object_type=object_type, changes=changes, action=action)


def test_counter_receipt_rows_are_chinese():
    rows = change_rows(
        ev(
            "payments.payment",
            {
                "receipt_no": "R1",
                "tendered": "100.00",
                "change": "3.89",
                "owed_after": "0.00",
                "form_token": "t",
            },
        )
    )
    assert [r.label for r in rows] == ["收据号", "实收（元）", "找零（元）", "缴费后欠费（元）", "表单标识"]


def test_public_order_values_wallet_label_local_time_and_boolean():
    rows = change_rows(
        ev(
            "payments.paymentorder",
            {
                "channel": "portal",
                "public": True,
                "wallet": "wechat",
                "expires_at": "2026-12-06T21:17:48+00:00",
            },
        )
    )
    by = {r.label: r.after for r in rows}
    assert by["免登录缴费"] == "是"
    assert by["支付方式"] == "微信支付"
    # 21:17 UTC is 05:17 the next day in Asia/Shanghai (UTC+8).
    assert by["支付截止时间"] == "2026-12-07 05:17"
    alipay = change_rows(ev("payments.paymentorder", {"wallet": "alipay"}))
    assert alipay == [ChangeRow("支付方式", "—", "支付宝")]


@pytest.mark.django_db
def test_user_ids_show_as_usernames():
    from gridcare.org.models import User

    u1 = User.objects.create_user(username="zhang.san", password="x")  # noqa: S106
    u2 = User.objects.create_user(username="li.si", password="x")  # noqa: S106
    rows = change_rows(ev("portal.binding", {"user": u1.pk, "account_number": "3100000001"}))
    assert ChangeRow("用户", "—", "zhang.san") in rows
    rows = change_rows(ev("customers.account", {"users": [u1.pk, u2.pk]}))
    assert rows == [ChangeRow("用户", "—", "zhang.san、li.si")]
    gone = change_rows(ev("portal.binding", {"user": 999999}))
    assert gone == [ChangeRow("用户", "—", "用户#999999")]
