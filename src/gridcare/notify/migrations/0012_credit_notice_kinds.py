"""The notices of customer credit rating (issue 17 §3): to the customer when a risk measure now applies to its
grade (every channel, as the customer chose); to the customer manager when a customer drops two or more grades
or to D (SMS, transactional, to the manager's phone)."""

from django.db import migrations, models

SIGN = "【供电服务】"
# kind: (sms body, e-mail subject, e-mail body, wechat fields) — as 0002_seed_templates
TEMPLATES = {
    "credit_measure": (
        SIGN + "尊敬的{{ customer_name }}，根据{{ period }}用电信用评价（{{ grade }}级），"
        "自即日起对您执行：{{ measures }}。如有疑问请联系客户经理或致电95598。",
        "用电信用评价结果及服务措施：{{ grade }}级",
        "尊敬的{{ customer_name }}：\n根据{{ period }}用电信用评价，您的信用等级为{{ grade }}级。\n"
        "自即日起对您执行：{{ measures }}。\n如有疑问请联系客户经理或致电95598，也可对评价依据提出申诉。",
        {
            "first": "用电信用评价结果",
            "keyword1": "{{ grade }}级",
            "keyword2": "{{ measures }}",
            "remark": "如有疑问请联系客户经理或致电95598。",
        },
    ),
}
GRADE_DROP_SMS = (
    SIGN + "信用预警：客户{{ customer_name }}（{{ customer_id }}）{{ period }}信用等级由{{ previous }}级降至"
    "{{ grade }}级，请及时跟进。"
)

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
    ("credit_measure", "信用评价服务措施"),
    ("credit_grade_drop", "信用等级下降预警"),
]


def seed(apps, schema_editor):
    NoticeTemplate = apps.get_model("notify", "NoticeTemplate")
    rows = []
    for kind, (sms, subject, email, fields) in TEMPLATES.items():
        rows.append(NoticeTemplate(kind=kind, channel="sms", body=sms))
        rows.append(NoticeTemplate(kind=kind, channel="email", subject=subject, body=email))
        rows.append(NoticeTemplate(kind=kind, channel="wechat", body=sms.removeprefix(SIGN), wechat_fields=fields))
    rows.append(NoticeTemplate(kind="credit_grade_drop", channel="sms", body=GRADE_DROP_SMS))
    NoticeTemplate.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("notify", "NoticeTemplate").objects.filter(
        kind__in=["credit_measure", "credit_grade_drop"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0011_hall_notice_kinds"),
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
