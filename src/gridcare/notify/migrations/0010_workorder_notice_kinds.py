"""The notices of 95598 work orders (issue 15 §3, §8): to the customer when an order is accepted, a crew is
dispatched, the order is closed or reopened after a 不满意 callback; to supervisors when an order is escalated
overdue (SMS only)."""

from django.db import migrations, models

SIGN = "【供电服务】"
PROMISE = "{% if deadline %}，我们将在{{ deadline }}前{{ promise }}{% endif %}"
ARRIVAL = "{% if deadline %}，承诺于{{ deadline }}前到达现场{% endif %}"
# kind: (sms body, e-mail subject, e-mail body, wechat fields) — as 0002_seed_templates
TEMPLATES = {
    "workorder_accepted": (
        SIGN + "您的{{ type }}工单{{ number }}已受理" + PROMISE + "。办理进度可在网上国网查询，或致电95598。",
        "工单已受理：{{ number }}",
        "尊敬的{{ customer_name }}：\n您的{{ type }}工单{{ number }}已受理" + PROMISE + "。\n"
        "办理进度可在网上国网查询，或致电95598。",
        {
            "first": "您的工单已受理",
            "keyword1": "{{ number }}",
            "keyword2": "{{ type }}",
            "keyword3": "{% if deadline %}{{ deadline }}前{{ promise }}{% else %}—{% endif %}",
            "remark": "办理进度可在网上国网查询。",
        },
    ),
    "workorder_dispatched": (
        SIGN + "您的故障报修工单{{ number }}已派出抢修人员" + ARRIVAL + "，请保持电话畅通。",
        "抢修人员已出发：{{ number }}",
        "尊敬的{{ customer_name }}：\n您的故障报修工单{{ number }}已派出抢修人员"
        + ARRIVAL
        + "，请保持电话畅通。",
        {
            "first": "抢修人员已派出",
            "keyword1": "{{ number }}",
            "keyword2": "{% if deadline %}{{ deadline }}前到达现场{% else %}—{% endif %}",
            "remark": "请保持电话畅通。",
        },
    ),
    "workorder_closed": (
        SIGN + "您的{{ type }}工单{{ number }}已办结归档。欢迎登录网上国网对本次服务进行评价，感谢您的支持。",
        "工单已办结：{{ number }}",
        "尊敬的{{ customer_name }}：\n您的{{ type }}工单{{ number }}已办结归档。\n"
        "欢迎登录网上国网对本次服务进行评价，感谢您的支持。",
        {
            "first": "您的工单已办结",
            "keyword1": "{{ number }}",
            "keyword2": "{{ type }}",
            "remark": "欢迎登录网上国网评价本次服务。",
        },
    ),
    "workorder_reopened": (
        SIGN + "您对工单{{ number }}（{{ type }}）的处理不满意，我们已重新办理，将尽快与您联系。",
        "工单重新办理：{{ number }}",
        "尊敬的{{ customer_name }}：\n您对工单{{ number }}（{{ type }}）的处理结果不满意，我们已重新办理，"
        "将尽快与您联系。",
        {
            "first": "您的工单已重新办理",
            "keyword1": "{{ number }}",
            "keyword2": "{{ type }}",
            "remark": "我们将尽快与您联系。",
        },
    ),
}
# Staff only, by SMS (a transactional kind).
ESCALATED_SMS = (
    SIGN
    + "工单督办：{{ unit }}{{ type }}工单{{ number }}的“{{ deadline_name }}”时限已于{{ due_at }}到期未完成，"
    "已升级为第{{ level }}次督办，请督促处理。{% if more %}另有{{ more }}张工单同时超时升级，请登录系统查看。{% endif %}"
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
]


def seed(apps, schema_editor):
    NoticeTemplate = apps.get_model("notify", "NoticeTemplate")
    rows = []
    for kind, (sms, subject, email, fields) in TEMPLATES.items():
        rows.append(NoticeTemplate(kind=kind, channel="sms", body=sms))
        rows.append(NoticeTemplate(kind=kind, channel="email", subject=subject, body=email))
        rows.append(
            NoticeTemplate(kind=kind, channel="wechat", body=sms.removeprefix(SIGN), wechat_fields=fields)
        )
    rows.append(NoticeTemplate(kind="workorder_escalated", channel="sms", body=ESCALATED_SMS))
    NoticeTemplate.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    kinds = [*TEMPLATES, "workorder_escalated"]
    apps.get_model("notify", "NoticeTemplate").objects.filter(kind__in=kinds).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0009_outage_notice_kinds"),
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
