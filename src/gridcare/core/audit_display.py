"""Audit events for people: the action as a Chinese label and `changes` as rows 字段 / 原值 / 新值.

`changes` comes in three shapes (see the services): a diff `{field: [before, after]}`, snapshots
`{"before": {...}, "after": {...}}`, and plain facts `{key: value}` (a new value, no before). Field names are the
verbose names of the event's model (`object_type`) where it has that field, else the labels below; values with
choices on that model show their label (支付宝, not `alipay`); booleans 是/否; nested values as 名称：值 text.
Personal data is masked (`gridcare.core.masking.mask_audit_changes`) unless the caller may reveal it.

Labels of domain actions and keys live here as data: core imports no domain app, it looks models up by label.
"""

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from .masking import mask_audit_changes

EMPTY = "—"

ACTION_LABELS = {
    "account.close": _("销户"),
    "account.open": _("立户"),
    "account.protection": _("设置保护用户"),
    "account.transfer": _("过户"),
    "api_token.create": _("创建接口令牌"),
    "bill.cancel_rebill": _("账单作废并重开"),
    "billing_run.start": _("发起电费发行"),
    "bills.issue": _("发行账单"),
    "collections.cancel": _("撤销停电（已缴清）"),
    "collections.disconnect_done": _("停电完成"),
    "collections.reconnect_cancel": _("撤销复电"),
    "collections.reconnect_done": _("复电完成"),
    "collections.reconnect_order": _("生成复电任务"),
    "collections.run": _("催费日处理"),
    "collections.task_approve": _("批准停电任务"),
    "collections.task_reject": _("驳回停电任务"),
    "collections.task_to_approval": _("停电任务转审批"),
    "customer.create": _("新建客户"),
    "customer.export": _("导出客户"),
    "customer.import": _("导入客户"),
    "customer.update": _("修改客户资料"),
    "customer.view_pii": _("查看完整个人信息"),
    "demo.seed": _("生成演示数据"),
    "demo.seed_readings": _("生成演示抄表数据"),
    "fee_waiver.approve": _("批准违约金减免"),
    "fee_waiver.reject": _("驳回违约金减免"),
    "fee_waiver.request": _("申请违约金减免"),
    "hall.create": _("新建营业厅"),
    "import.customers": _("批量导入客户"),
    "import.readings": _("批量导入抄表数据"),
    "meter.install": _("装表"),
    "meter.remove": _("拆表"),
    "meter.update": _("修改电能表"),
    "notify.campaign_create": _("新建节日问候"),
    "notify.campaign_launch": _("发送节日问候"),
    "notify.preference_update": _("修改通知设置"),
    "payment.record": _("缴费入账"),
    "payment.reverse": _("缴费冲正"),
    "payment_order.create": _("创建在线支付订单"),
    "payment_order.paid": _("在线支付成功"),
    "portal.bind": _("网上营业厅绑定户号"),
    "portal.bind_failed": _("网上营业厅绑定户号失败"),
    "portal.unbind": _("网上营业厅解绑户号"),
    "portal_user.register": _("网上营业厅注册"),
    "prepaid.enrol": _("开通智能交费"),
    "prepaid.estimate_run": _("智能交费余额测算"),
    "prepaid.unenrol": _("取消智能交费"),
    "prepaid.update": _("修改智能交费设置"),
    "reconciliation.backfill": _("对账补录"),
    "reconciliation.import": _("导入对账单"),
    "reconciliation.resolve": _("处理对账差错"),
    "refund.approve": _("批准退费"),
    "refund.reject": _("驳回退费"),
    "refund.request": _("申请退费"),
    "route.assign": _("调整抄表段"),
    "route.create": _("新建抄表段"),
    "shift.close": _("收费日结"),
    "shift.open": _("开始收费班次"),
    "staff.create": _("新建员工"),
    "tariff_version.close": _("电价版本截止"),
    "tariff_version.create": _("新增电价版本"),
    "terminal.add": _("登记自助缴费终端"),
    "unit.create": _("新建供电单位"),
    "user.locked": _("账号锁定"),
    "user.login_failed": _("登录失败"),
    "withholding_agreement.create": _("签订代扣协议"),
    "withholding_agreement.deactivate": _("终止代扣协议"),
    "withholding_batch.export": _("生成代扣文件"),
    "withholding_batch.import": _("导入代扣结果"),
}

# Keys that are not fields of the event's model (or are named differently there).
KEY_LABELS = {
    "account": _("户号"),
    "account_id": _("户号ID"),
    "account_number": _("户号"),
    "address": _("用电地址"),
    "after": _("新值"),
    "amount": _("金额（元）"),
    "basic": _("基本电价"),
    "basis": _("阶梯周期"),
    "before": _("原值"),
    "case_status": _("停电流程状态"),
    "channel": _("渠道"),
    "channel_txn_id": _("交易流水号"),
    "closed_on": _("销户日期"),
    "code": _("代码"),
    "count": _("数量"),
    "counter": _("收费窗口"),
    "counters": _("窗口数"),
    "customer": _("客户"),
    "date": _("日期"),
    "due_date": _("缴费截止日"),
    "effective_on": _("生效日期"),
    "energy_price": _("电度电价"),
    "file": _("文件"),
    "flagged": _("异常数"),
    "format": _("格式"),
    "funds": _("基金及附加"),
    "label": _("名称"),
    "name": _("名称"),
    "note": _("备注"),
    "opened_on": _("立户日期"),
    "order_no": _("订单号"),
    "paid_at": _("缴费时间"),
    "parameters": _("电价参数"),
    "per_kva": _("按容量（元/千伏安·月）"),
    "per_kw": _("按最大需量（元/千瓦·月）"),
    "period": _("账期"),
    "pf_target": _("功率因数考核标准"),
    "price": _("单价"),
    "protected": _("保护用户"),
    "protected_reason": _("保护原因"),
    "query": _("查询条件"),
    "reason": _("原因"),
    "recipients": _("接收人数"),
    "removed_on": _("拆表日期"),
    "role": _("角色"),
    "route": _("抄表段"),
    "rows": _("行数"),
    "service_point": _("计量点"),
    "sha256": _("文件摘要"),
    "status": _("状态"),
    "surcharges": _("各档加价"),
    "tariff": _("电价"),
    "tasks_to_approval": _("转审批的任务"),
    "thresholds": _("分档电量"),
    "tiers": _("阶梯"),
    "tou_prices": _("分时电价"),
    "tou_windows": _("分时时段"),
    "transformer_area": _("台区"),
    "unallocated": _("未分配金额（元）"),
    "unit": _("供电单位"),
    "unmasked": _("含完整个人信息"),
    "user": _("用户"),
    "username": _("用户名"),
    "users": _("用户"),
    "valid_from": _("生效日期"),
    "valid_to": _("失效日期"),
    "wechat_openid": _("微信用户标识"),
    "sharp": _("尖峰"),
    "peak": _("高峰"),
    "flat": _("平段"),
    "valley": _("低谷"),
}

# Keys whose value is a list of its own, never a [before, after] pair.
LIST_KEYS = frozenset({"users", "funds", "thresholds", "surcharges", "tasks_to_approval"})


@dataclass(frozen=True)
class ChangeRow:
    """One line of an audit event's changes: the field's label, what it was, what it became."""

    label: str
    before: str
    after: str


def action_label(action: str) -> str:
    """'customer.update' → 修改客户资料; an action without a label shows its code."""
    label = ACTION_LABELS.get(action)
    if label is None and action.startswith("collections.") and action.endswith("_done"):
        label = ACTION_LABELS.get("collections.disconnect_done")
    return str(label) if label is not None else action


def _model_of(object_type: str):
    if not object_type or "." not in object_type:
        return None
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model, key: str):
    if model is None:
        return None
    for name in (key, key.removesuffix("_id")):
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
    return None


def key_label(key: str, model=None) -> str:
    f = _field(model, key)
    if f is not None and getattr(f, "verbose_name", None) and str(f.verbose_name) != f.name.replace("_", " "):
        return str(f.verbose_name)
    label = KEY_LABELS.get(key) or KEY_LABELS.get(key.removesuffix("_id"))
    return str(label) if label is not None else key


def show_value(value: Any, key: str = "", model=None) -> str:
    """A stored value as text: choices as their labels, 是/否, nested objects as 名称：值."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return str(_("是")) if value else str(_("否"))
    f = _field(model, key)
    choices = dict(f.flatchoices) if f is not None and getattr(f, "choices", None) else None
    if isinstance(value, dict):
        return "；".join(f"{key_label(k, model)}：{show_value(v, k, model)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(show_value(v, key, model) for v in value) or EMPTY
    if choices is not None and value in choices:
        return str(choices[value])
    return str(value)


def change_rows(event, *, reveal: bool = False) -> list[ChangeRow]:
    """The event's changes as rows, personal data masked unless `reveal`."""
    changes = event.changes if reveal else mask_audit_changes(event.changes)
    if not isinstance(changes, dict):
        return [ChangeRow("", EMPTY, show_value(changes))] if changes else []
    model = _model_of(event.object_type)
    rows: list[ChangeRow] = []
    before, after = changes.get("before"), changes.get("after")
    if isinstance(before, dict) or isinstance(after, dict):
        before = before if isinstance(before, dict) else {}
        after = after if isinstance(after, dict) else {}
        for k in [*after, *(k for k in before if k not in after)]:
            rows.append(
                ChangeRow(
                    key_label(k, model),
                    show_value(before.get(k), k, model) if k in before else EMPTY,
                    show_value(after.get(k), k, model) if k in after else EMPTY,
                )
            )
    for k, v in changes.items():
        if k in ("before", "after") and (isinstance(v, dict) or v is None):
            continue
        if isinstance(v, list) and len(v) == 2 and k not in LIST_KEYS:
            rows.append(
                ChangeRow(key_label(k, model), show_value(v[0], k, model), show_value(v[1], k, model))
            )
        else:
            rows.append(ChangeRow(key_label(k, model), EMPTY, show_value(v, k, model)))
    return rows
