"""Audit events for people: the action as a Chinese label and `changes` as rows 字段 / 原值 / 新值.

`changes` comes in three shapes (see the services): a diff `{field: [before, after]}`, snapshots
`{"before": {...}, "after": {...}}`, and plain facts `{key: value}` (a new value, no before). Field names are the
verbose names of the event's model (`object_type`) where it has that field, else the labels below; values with
choices on that model show their label (支付宝, not `alipay`); booleans 是/否; nested values as 名称：值 text.
Personal data is masked (`gridcare.core.masking.mask_audit_changes`) unless the caller may reveal it.

Labels of domain actions and keys live here as data: core imports no domain app, it looks models up by label.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .masking import mask_audit_changes

EMPTY = "—"

ACTION_LABELS = {
    "account.close": _("销户"),
    "account.open": _("立户"),
    "account.protection": _("设置保护用户"),
    "account.transfer": _("过户"),
    "agent.add": _("新增代收机构"),
    "api_token.create": _("创建接口令牌"),
    "api_token.revoke": _("吊销接口令牌"),
    "bill.cancel_rebill": _("账单作废并重开"),
    "billing_run.delete": _("删除电费发行"),
    "billing_run.start": _("发起电费发行"),
    "bills.issue": _("发行账单"),
    "job.retry": _("重试后台任务"),
    "schedule.pause": _("暂停定时任务"),
    "schedule.resume": _("恢复定时任务"),
    "schedule.run": _("立即运行定时任务"),
    "schedule.update": _("修改定时任务"),
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
    "customer.export_download": _("下载导出文件"),
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
    "invoice.issue": _("开具电子发票"),
    "meter.install": _("装表"),
    "meter.remove": _("拆表"),
    "meter.update": _("修改电能表"),
    "meter_read.accept": _("确认异常抄表数"),
    "meter_read.correct": _("更正抄表数"),
    "meter_read.create": _("录入抄表数"),
    "meter_read.estimate": _("估抄"),
    "meter_read.estimate_missing": _("缺抄估算"),
    "notify.campaign_create": _("新建节日问候"),
    "notify.campaign_launch": _("发送节日问候"),
    "notify.preference_update": _("修改通知设置"),
    "payment.counter_receipt": _("柜台收费开票"),
    "payment.record": _("缴费入账"),
    "payment.reverse": _("缴费冲正"),
    "payment_order.create": _("创建在线支付订单"),
    "payment_order.paid": _("在线支付成功"),
    "payment_order.close": _("关闭在线支付订单"),
    "payment_order.paid_exception": _("在线支付入账（订单已关闭或金额不符，转对账差错）"),
    "wechat_platform_key.refresh": _("更新微信支付平台证书"),
    "portal.bind": _("网上营业厅绑定户号"),
    "portal.bind_failed": _("网上营业厅绑定户号失败"),
    "portal.bind_lock": _("户号因多次绑定失败锁定网上绑定"),
    "portal.bind_unlock": _("解除户号网上绑定锁定（已核验证件）"),
    "portal.reauth": _("网上营业厅身份确认"),
    "portal.reauth_failed": _("网上营业厅身份确认失败"),
    "portal.sms_code_failed": _("短信验证码错误"),
    "portal.unbind": _("网上营业厅解绑户号"),
    "portal_user.phone_change": _("网上营业厅更换手机号"),
    "portal_user.register": _("网上营业厅注册"),
    "prepaid.enrol": _("开通智能交费"),
    "prepaid.estimate_run": _("智能交费余额测算"),
    "prepaid.unenrol": _("取消智能交费"),
    "prepaid.update": _("修改智能交费设置"),
    "reconciliation.backfill": _("对账补录"),
    "reconciliation.import": _("导入对账单"),
    "reconciliation.resolve": _("处理对账差错"),
    "refund.approve": _("批准退费"),
    "refund.channel": _("记录渠道侧退款"),
    "refund.fail": _("渠道拒绝退款"),
    "refund.reject": _("驳回退费"),
    "refund.request": _("申请退费"),
    "refund.settle": _("退款入账（原路退回）"),
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
    "user.unlock": _("账号解锁"),
    "withholding_agreement.create": _("签订代扣协议"),
    "withholding_agreement.deactivate": _("终止代扣协议"),
    "withholding_batch.export": _("生成代扣文件"),
    "withholding_batch.import": _("导入代扣结果"),
    "demo.outages": _("生成演示停电数据"),
    "demo.service": _("生成演示客服工单与知识库"),
    "import.outages": _("导入历史停电"),
    "import.voltage": _("导入电压读数"),
    "outage.approve": _("审批停电"),
    "outage.cancel": _("取消停电"),
    "outage.change": _("变更已发布的停电"),
    "outage.contact": _("记录重要客户告知"),
    "outage.create": _("新建停电"),
    "outage.frequent_case": _("更新频繁停电整改"),
    "outage.frequent_open": _("频繁停电建档"),
    "outage.publish": _("发布停电"),
    "outage.reject": _("退回停电"),
    "outage.restore": _("恢复送电"),
    "outage.start": _("开始停电"),
    "outage.submit": _("提交停电审批"),
    "outage.trip_action": _("登记故障跳闸治理措施"),
    "outage.update": _("修改停电"),
    "planned.budget": _("设置预安排停电指标"),
    "reliability.target": _("设置可靠性目标"),
    "workorder.accept": _("工单接单"),
    "workorder.answer": _("工单解答"),
    "workorder.arrive": _("抢修到达现场"),
    "workorder.assign": _("工单派单"),
    "workorder.attach": _("工单上传附件"),
    "workorder.callback": _("工单回访"),
    "workorder.chase": _("工单催办"),
    "workorder.close": _("工单归档"),
    "workorder.complete": _("工单办结"),
    "workorder.contact": _("工单联系客户"),
    "workorder.create": _("新建工单"),
    "workorder.depart": _("抢修出发"),
    "workorder.dispatch": _("抢修派工"),
    "workorder.escalate": _("工单升级"),
    "workorder.merge": _("工单合并"),
    "workorder.rate": _("客户评价工单"),
    "workorder.received_entered": _("新建工单（补录受理时间）"),
    "workorder.reply": _("工单答复"),
    "workorder.restore": _("抢修恢复送电"),
    "workorder.return": _("工单退回"),
    "workorder.substantiate": _("认定投诉是否属实"),
    "workorder.transfer": _("工单转派"),
    "knowledge.create": _("新建知识"),
    "knowledge.draft": _("起草知识版本"),
    "knowledge.submit": _("提交知识审核"),
    "knowledge.approve": _("审核发布知识"),
    "knowledge.reject": _("退回知识版本"),
    "knowledge.retire": _("停用知识"),
    "chat.start": _("发起在线客服会话"),
    "chat.accept": _("接入在线客服会话"),
    "chat.close": _("结束在线客服会话"),
    "chat.order": _("在线客服会话转工单"),
    "calendar.update": _("录入工作日历"),
    "calendar.import": _("导入工作日历"),
    "calendar.recompute": _("重算工单时限（工作日历变更）"),
    "service.clock": _("工单时限预警与超时升级"),
    "service.policy_update": _("修改服务承诺时限"),
    "hall.device_create": _("新增营业厅设备"),
    "hall.device_disable": _("停用营业厅设备"),
    "hall.maintenance_close": _("关闭终端维护任务"),
    "hall.terminal_hall_set": _("设置终端所在营业厅"),
    "hall.terminals_sweep": _("终端离线检测"),
    "hall.follow_up_close": _("关闭不满意评价跟进"),
    "hall.id_read": _("终端读取身份证（未找到户号）"),
    "hall.setup_defaults": _("营业厅排队默认设置"),
    "hall.counter_open": _("窗口开窗"),
    "hall.counter_pause": _("窗口暂停服务"),
    "hall.counter_resume": _("窗口恢复服务"),
    "hall.counter_close": _("窗口关窗"),
    "hall.appointment_book": _("营业厅预约"),
    "hall.appointment_cancel": _("取消营业厅预约"),
    "hall.appointment_check_in": _("预约到厅签到"),
    "hall.appointment_no_show": _("标记预约爽约"),
    "hall.profile_update": _("修改营业厅排队设置"),
    "hall.categories": _("设置营业厅办理的业务类别"),
    "hall.counter_categories": _("设置窗口办理的业务类别"),
    "hall.closure_add": _("新增营业厅停业日"),
    "hall.closure_remove": _("删除营业厅停业日"),
    # customer credit (issue 17)
    "credit.event_create": _("新增信用事件"),
    "credit.event_update": _("更新派生信用事件"),
    "credit.event_void": _("撤销派生信用事件（账务已变化）"),
    "credit.event_approve": _("审批通过信用事件"),
    "credit.event_reject": _("驳回信用事件"),
    "credit.event_confirm": _("确认代扣失败信用事件"),
    "credit.event_dismiss": _("不予确认代扣失败信用事件"),
    "credit.evidence_add": _("上传信用事件证据"),
    "credit.contest_raise": _("提出信用事件申诉"),
    "credit.contest_decide": _("处理信用事件申诉"),
    "credit.inspections_schedule": _("用电检查周期排程"),
    "credit.inspection_create": _("新建专项检查"),
    "credit.inspection_perform": _("登记用电检查结果"),
    "credit.inspection_refuse": _("登记客户拒绝检查"),
    "credit.notice_issue": _("下达限期整改通知书"),
    "credit.notice_done": _("确认整改完成"),
    "credit.notice_overdue": _("整改逾期未完成"),
    "credit.policy_update": _("修改信用评价参数"),
    "credit.run_start": _("启动月度信用评价"),
    "credit.customer_rate": _("单户信用评价"),
    "credit.assessment_create": _("录入现场评估"),
    "credit.assessment_review": _("复核现场评估"),
}

# Keys that are not fields of the event's model (or are named differently there).
KEY_LABELS = {
    # customer credit (issue 17)
    "scheduled": _("排程数"),
    "defects": _("存在问题的检查项"),
    "events": _("生成的信用事件"),
    "unqualified_electricians": _("不合格电工人数"),
    "decision": _("处理结果"),
    "event": _("信用事件"),
    "severity": _("严重程度"),
    "grace_days": _("欠费宽限天数"),
    "grade_aaa": _("AAA级最低分"),
    "grade_aa": _("AA级最低分"),
    "grade_a": _("A级最低分"),
    "grade_b": _("B级最低分"),
    "grade_c": _("C级最低分"),
    "lighting_classes": _("照明户的用电类别"),
    "measures": _("各等级风险措施"),
    "wrong_account_codes": _("表示账号错误的银行返回码"),
    "dunning_advance_days": _("提前催费天数"),
    "inspect_hv_months": _("高压客户检查周期(月)"),
    "inspect_important_months": _("重要客户检查周期(月)"),
    "inspect_lv_business_months": _("低压非居民检查周期(月)"),
    "rectification_days": _("默认整改期限(天)"),
    "assessment_months": _("现场评估周期(月)"),
    "rating_month": _("评价月份"),
    "grade": _("信用等级"),
    "score_total": _("信用总分"),
    "conduct": _("经营行为"),
    "potential": _("发展潜力"),
    "assessed_on": _("评估日期"),
    "done_on": _("整改完成日期"),
    "due_on": _("应检日期"),
    "performed_on": _("检查日期"),
    "category": _("分类"),
    "title": _("标题"),
    "version": _("版本"),
    "topic": _("咨询主题"),
    "from_unit": _("原单位"),
    "to_unit": _("转派单位"),
    "into": _("合并到工单"),
    "substantiated": _("投诉属实"),
    "rating": _("客户评价"),
    "size": _("文件大小"),
    "type": _("类型"),
    "received_at": _("受理时间"),
    "accounts_created": _("新建户数"),
    "active": _("有效"),
    "agent": _("代收机构"),
    "alerts_raised": _("发出提醒数"),
    "arrears": _("欠费（元）"),
    "as_of": _("截至"),
    "bank_account": _("银行账号"),
    "bank_code": _("银行代码"),
    "batch_no": _("批次号"),
    "bill": _("账单"),
    "cancelled": _("撤销数"),
    "change": _("找零（元）"),
    "created": _("新增数"),
    "customer_class": _("客户类别"),
    "customers_attached": _("关联客户数"),
    "customers_created": _("新建客户数"),
    "debited": _("扣款成功数"),
    "declared_card": _("申报刷卡（元）"),
    "declared_cash": _("申报现金（元）"),
    "demo": _("演示数据"),
    "done_at": _("执行时间"),
    "draft_bills_deleted": _("删除的草稿账单数"),
    "elapsed_s": _("耗时（秒）"),
    "end": _("截止"),
    "estimated": _("估算数"),
    "exceptions": _("异常"),
    "exceptions_deleted": _("删除的异常数"),
    "expected_card": _("应收刷卡（元）"),
    "expected_cash": _("应收现金（元）"),
    "expires_at": _("支付截止时间"),
    "failed": _("失败数"),
    "form_token": _("表单标识"),
    "invoice_code": _("发票代码"),
    "invoice_number": _("发票号码"),
    "kind": _("类型"),
    "hall": _("营业厅"),
    "added": _("新增"),
    "removed": _("移除"),
    "by": _("操作方"),
    "categories": _("业务类别"),
    "day": _("日期"),
    "device": _("设备"),
    "fault": _("故障"),
    "ids": _("记录编号"),
    "on_time": _("准时签到"),
    "slot_start": _("预约时段"),
    "terminal": _("终端"),
    "ticket": _("排队号"),
    "id_number": _("证件号码"),
    "locked_until": _("锁定至"),
    "matched": _("匹配数"),
    "memberships": _("归属关系数"),
    "meters": _("电能表数"),
    "method": _("方式"),
    "attempt": _("第几次尝试"),
    "id_checked": _("已核验证件"),
    "phone": _("手机号"),
    "phone_last4": _("手机号后四位"),
    "purpose": _("用途"),
    "months": _("月数"),
    "new_amount": _("新金额（元）"),
    "old_amount": _("原金额（元）"),
    "opening_float": _("备用金（元）"),
    "owed_after": _("缴费后欠费（元）"),
    "payment_id": _("缴费记录"),
    "public": _("免登录缴费"),
    "reads": _("抄表数"),
    "rearmed": _("重新启用提醒数"),
    "receipt_no": _("收据号"),
    "receivable": _("应收"),
    "replaced": _("替换的对账单"),
    "requested_by": _("申请人"),
    "requested_customers": _("请求客户数"),
    "routes": _("抄表段数"),
    "scheduled_at": _("计划发送时间"),
    "seed": _("随机种子"),
    "segment": _("客户分群"),
    "signed_on": _("签约日期"),
    "statement_date": _("对账日期"),
    "tasks": _("任务"),
    "tendered": _("实收（元）"),
    "today": _("当日"),
    "total": _("合计（元）"),
    "unchanged": _("未变化数"),
    "units": _("供电单位"),
    "wallet": _("支付方式"),
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
    "customer_ids": _("涉及客户"),
    "date": _("日期"),
    "due_date": _("缴费截止日"),
    "effective_on": _("生效日期"),
    "energy_price": _("电度电价"),
    "file": _("文件"),
    "flagged": _("异常数"),
    "format": _("格式"),
    "funds": _("基金及附加"),
    "job": _("后台任务"),
    "label": _("名称"),
    "name": _("名称"),
    "prefix": _("令牌前缀"),
    "note": _("备注"),
    "object_ids": _("查看的对象"),
    "opened_on": _("立户日期"),
    "order_no": _("订单号"),
    "order_amount": _("订单金额"),
    "paid_amount": _("实付金额"),
    "reconciliation_exception": _("对账差错"),
    "fetched_at": _("下载时间"),
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
    "source": _("查看位置"),
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
    "attempts": _("执行次数"),
    "enabled": _("启用"),
    "error": _("错误"),
    "schedule": _("计划"),
    "payment": _("缴费记录"),
    "refund_no": _("退款单号"),
    "channel_refund_id": _("渠道退款单号"),
    "channel_status": _("渠道退款状态"),
    "refunded_at": _("退款时间"),
    "from_credit": _("取自预存（元）"),
    "reopened": _("恢复的欠费"),
    "message": _("渠道说明"),
    "refunded_total": _("渠道累计退款（元）"),
    "accounts": _("户号"),
    "area_group": _("区域"),
    "areas": _("台区"),
    "at": _("时间"),
    "budget": _("年度指标（时户）"),
    "budget_override_reason": _("超预算说明"),
    "budgets": _("预安排停电指标"),
    "customer_hours": _("时户数"),
    "customers": _("户数"),
    "default": _("默认值"),
    "est_customer_hours": _("预计停电时户数"),
    "important_contacts": _("重要客户告知"),
    "merge_candidates": _("一停多用候选"),
    "merge_note": _("一停多用说明"),
    "notified": _("通知户数"),
    "number": _("编号"),
    "opened": _("新建数"),
    "planned_end": _("预计送电时间"),
    "planned_start": _("计划停电时间"),
    "readings": _("读数条数"),
    "refreshed": _("重算数"),
    "restored": _("恢复户数"),
    "row": _("行号"),
    "scope": _("停电范围"),
    "start": _("开始"),
    "unit_id": _("供电单位"),
    "used": _("已用（时户）"),
    "year": _("年度"),
    "years": _("年数"),
    "loaded": _("已发布"),
    "holidays": _("节假日天数"),
    "adjusted_working_days": _("调休上班天数"),
    "days_changed": _("变更天数"),
    "no_longer_provisional": _("转为正式时限数"),
    "warned": _("预警数"),
    "escalated": _("升级数"),
    "deadline": _("时限"),
    "escalation_level": _("升级次数"),
    "priority": _("优先级"),
    "policy": _("时限规则"),
    "time_limit": _("时限"),
}

# Keys holding a user's id (or a list of them): shown as the username, looked up in one query per page.
USER_KEYS = frozenset({"user", "users", "requested_by"})

# Keys whose values are choices of a field elsewhere when the event's model gives them none (model label, field).
KEY_CHOICES = {
    "channel": ("payments.paymentorder", "channel"),
    "wallet": ("payments.paymentorder", "channel"),
    "role": ("org.user", "role"),
}

ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

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


def _choices(model, key: str) -> dict | None:
    f = _field(model, key)
    if f is not None and getattr(f, "choices", None):
        return dict(f.flatchoices)
    other = KEY_CHOICES.get(key)
    if other is not None:
        f = _field(_model_of(other[0]), other[1])
        if f is not None and getattr(f, "choices", None):
            return dict(f.flatchoices)
    return None


def _is_user_key(model, key: str) -> bool:
    if key in USER_KEYS:
        return True
    f = _field(model, key)
    return (
        f is not None
        and getattr(f, "related_model", None) is not None
        and (f.related_model._meta.label == settings.AUTH_USER_MODEL)
    )


def _user_ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def user_names(events: Iterable) -> dict[int, str]:
    """The usernames of every user id named in the events' changes, in one query."""
    ids: set[int] = set()

    def walk(changes: Any, model) -> None:
        if not isinstance(changes, dict):
            return
        for k, v in changes.items():
            if isinstance(v, dict):
                walk(v, model)
            elif _is_user_key(model, k):
                for item in v if isinstance(v, list) else [v]:
                    ids.update(_user_ids(item))

    for e in events:
        walk(e.changes, _model_of(e.object_type))
    if not ids:
        return {}
    User = get_user_model()
    return {pk: name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD)}


def _datetime_text(value: str) -> str | None:
    if not ISO_DATETIME.match(value):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_aware(dt):
        dt = timezone.localtime(dt)
    return dt.strftime("%Y-%m-%d %H:%M")


def key_label(key: str, model=None) -> str:
    f = _field(model, key)
    if f is not None and getattr(f, "verbose_name", None) and str(f.verbose_name) != f.name.replace("_", " "):
        return str(f.verbose_name)
    label = KEY_LABELS.get(key) or KEY_LABELS.get(key.removesuffix("_id"))
    return str(label) if label is not None else key


def show_value(value: Any, key: str = "", model=None, users: Mapping[int, str] | None = None) -> str:
    """A stored value as text: choices as their labels, 是/否, ISO times as local 年-月-日 时:分, user ids as
    usernames (from `users`, see `user_names`), nested objects as 名称：值."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return str(_("是")) if value else str(_("否"))
    if isinstance(value, dict):
        return "；".join(f"{key_label(k, model)}：{show_value(v, k, model, users)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(show_value(v, key, model, users) for v in value) or EMPTY
    if isinstance(value, int) and key and _is_user_key(model, key):
        name = (users or {}).get(value)
        return name if name is not None else str(_("用户#%(id)s") % {"id": value})
    if isinstance(value, str):
        choices = _choices(model, key) if key else None
        if choices is not None and value in choices:
            return str(choices[value])
        when = _datetime_text(value)
        if when is not None:
            return when
    return str(value)


def change_rows(event, *, reveal: bool = False, users: Mapping[int, str] | None = None) -> list[ChangeRow]:
    """The event's changes as rows, personal data masked unless `reveal`; `users` from `user_names` (for many
    events, one query); without it this event's users are looked up."""
    if users is None:
        users = user_names([event])
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
                    show_value(before.get(k), k, model, users) if k in before else EMPTY,
                    show_value(after.get(k), k, model, users) if k in after else EMPTY,
                )
            )
    for k, v in changes.items():
        if k in ("before", "after") and (isinstance(v, dict) or v is None):
            continue
        if isinstance(v, list) and len(v) == 2 and k not in LIST_KEYS:
            rows.append(
                ChangeRow(
                    key_label(k, model), show_value(v[0], k, model, users), show_value(v[1], k, model, users)
                )
            )
        else:
            rows.append(ChangeRow(key_label(k, model), EMPTY, show_value(v, k, model, users)))
    return rows
