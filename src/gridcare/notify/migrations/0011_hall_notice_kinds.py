"""The SMS of the service hall (issue 16 §4–5): call-ahead when a customer is a few places from being called, the
"come and check in" notice of a remote ticket whose turn has come, an appointment booked or cancelled. All
transactional (to the phone the customer gave), SMS only."""

from django.db import migrations, models

SIGN = "【供电服务】"
TEMPLATES = {
    "hall_call_ahead": SIGN + "您在{{ hall }}的排队号{{ number }}前面还有{{ ahead }}位，请留意叫号，准备办理。",
    "hall_come_in": SIGN
    + "您在{{ hall }}的远程排队号{{ number }}已到号，请于{{ minutes }}分钟内到厅在自助取号机签到，逾时失效。",
    "hall_appt_booked": SIGN
    + "您已预约{{ hall }}{{ slot }}办理{{ category }}业务，预约码{{ code }}。"
    "请于时段开始后{{ grace }}分钟内到厅签到，可优先办理。",
    "hall_appt_cancelled": SIGN + "您预约的{{ hall }}{{ slot }}{{ category }}业务已取消（预约码{{ code }}）。",
}

KINDS = [
    ("bill_issued", "电费发行通知"),
    ("due_reminder", "缴费提醒"),
    ("overdue", "欠费通知"),
    ("disconnect_notice", "欠费停电预告"),
    ("reconnection", "复电通知"),
    ("payment_receipt", "缴费成功"),
    ("refund", "退费通知"),
    ("low_balance", "余额不足提醒"),
    ("outage", "停电通知"),
    ("outage_change", "停电变更通知"),
    ("outage_cancel", "停电取消通知"),
    ("outage_restored", "恢复送电通知"),
    ("emergency", "紧急通知"),
    ("greeting", "节日问候"),
    ("sms_code", "短信验证码"),
    ("workorder_accepted", "工单受理通知"),
    ("workorder_dispatched", "抢修派工通知"),
    ("workorder_closed", "工单办结通知"),
    ("workorder_reopened", "工单重办通知"),
    ("workorder_escalated", "工单超时督办"),
    ("hall_call_ahead", "排队临近提醒"),
    ("hall_come_in", "远程取号到号提醒"),
    ("hall_appt_booked", "营业厅预约成功"),
    ("hall_appt_cancelled", "营业厅预约取消"),
]


def seed(apps, schema_editor):
    NoticeTemplate = apps.get_model("notify", "NoticeTemplate")
    NoticeTemplate.objects.bulk_create(
        [NoticeTemplate(kind=kind, channel="sms", body=body) for kind, body in TEMPLATES.items()],
        ignore_conflicts=True,
    )


def unseed(apps, schema_editor):
    apps.get_model("notify", "NoticeTemplate").objects.filter(kind__in=list(TEMPLATES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0010_workorder_notice_kinds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="campaign",
            name="kind",
            field=models.CharField(choices=KINDS, default="greeting", max_length=24, verbose_name="通知类型"),
        ),
        migrations.AlterField(
            model_name="noticetemplate",
            name="kind",
            field=models.CharField(choices=KINDS, max_length=24, verbose_name="通知类型"),
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(choices=KINDS, max_length=24, verbose_name="通知类型"),
        ),
        migrations.AlterField(
            model_name="pendingnotice",
            name="kind",
            field=models.CharField(choices=KINDS, max_length=24, verbose_name="通知类型"),
        ),
        migrations.RunPython(seed, unseed),
    ]
