"""The default zh-CN templates: what the migrations seeded, used when a kind × channel has no row (deleted
in admin, or a database flushed by a test). A payment must never fail because its receipt's wording is
missing, so every kind always has a template; a broken edited one is still a clear error."""

from functools import cache
from importlib import import_module

from .models import NoticeTemplate


@cache
def default_templates() -> dict[tuple[str, str], NoticeTemplate]:
    seeded = import_module("gridcare.notify.migrations.0002_seed_templates")
    low = import_module("gridcare.notify.migrations.0004_low_balance_templates")
    seeds = {**seeded.TEMPLATES, "low_balance": (low.SMS, low.SUBJECT, low.EMAIL, low.FIELDS)}
    rows: dict[tuple[str, str], NoticeTemplate] = {}
    for kind, (sms, subject, email, fields) in seeds.items():  # as the migrations' seed() builds them
        rows[kind, "sms"] = NoticeTemplate(kind=kind, channel="sms", body=sms)
        rows[kind, "email"] = NoticeTemplate(kind=kind, channel="email", subject=subject, body=email)
        rows[kind, "wechat"] = NoticeTemplate(
            kind=kind, channel="wechat", body=sms.removeprefix(seeded.SIGN), wechat_fields=fields
        )
    # The work-order notices (issue 15): the customer's on every channel, the supervisors' escalation by SMS.
    workorders = import_module("gridcare.notify.migrations.0010_workorder_notice_kinds")
    for kind, (sms, subject, email, fields) in workorders.TEMPLATES.items():
        rows[kind, "sms"] = NoticeTemplate(kind=kind, channel="sms", body=sms)
        rows[kind, "email"] = NoticeTemplate(kind=kind, channel="email", subject=subject, body=email)
        rows[kind, "wechat"] = NoticeTemplate(
            kind=kind, channel="wechat", body=sms.removeprefix(seeded.SIGN), wechat_fields=fields
        )
    rows["workorder_escalated", "sms"] = NoticeTemplate(
        kind="workorder_escalated", channel="sms", body=workorders.ESCALATED_SMS
    )
    # The service hall's SMS (issue 16), SMS only.
    hall = import_module("gridcare.notify.migrations.0011_hall_notice_kinds")
    for kind, sms in hall.TEMPLATES.items():
        rows[kind, "sms"] = NoticeTemplate(kind=kind, channel="sms", body=sms)
    # Customer credit (issue 17): the measure notice on every channel, the managers' grade-drop alert by SMS.
    credit = import_module("gridcare.notify.migrations.0012_credit_notice_kinds")
    for kind, (sms, subject, email, fields) in credit.TEMPLATES.items():
        rows[kind, "sms"] = NoticeTemplate(kind=kind, channel="sms", body=sms)
        rows[kind, "email"] = NoticeTemplate(kind=kind, channel="email", subject=subject, body=email)
        rows[kind, "wechat"] = NoticeTemplate(
            kind=kind, channel="wechat", body=sms.removeprefix(seeded.SIGN), wechat_fields=fields
        )
    rows["credit_grade_drop", "sms"] = NoticeTemplate(
        kind="credit_grade_drop", channel="sms", body=credit.GRADE_DROP_SMS
    )
    # Transactional kinds go by SMS only (`services.transactional_sms_enqueue`).
    rows["sms_code", "sms"] = NoticeTemplate(
        kind="sms_code",
        channel="sms",
        body=seeded.SIGN
        + "验证码{{ code }}，用于{{ purpose }}，{{ minutes }}分钟内有效。请勿告诉他人，工作人员不会向您索取。",
    )
    return rows
