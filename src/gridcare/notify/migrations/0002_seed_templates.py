"""Seed the zh-CN notice templates (reference data: a bureau rewords them in admin)."""

from django.db import migrations

SIGN = "【供电服务】"
# kind: (sms body, e-mail subject, e-mail body, wechat fields)
TEMPLATES = {
    "bill_issued": (
        SIGN + "尊敬的客户，您户号{{ account_masked }}的{{ period }}电费{{ amount }}元已发行，请于{{ due_date }}前缴纳。",
        "{{ period }}电费账单（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}{{ period }}的电费账单已发行，"
        "应缴电费{{ amount }}元，缴费截止日{{ due_date }}。\n可通过网上国网、支付宝、微信或营业厅缴费。",
        {"first": "您的电费账单已发行", "keyword1": "{{ account_number }}", "keyword2": "{{ period }}",
         "keyword3": "{{ amount }}元", "keyword4": "{{ due_date }}", "remark": "请按时缴纳电费，感谢您的支持。"},
    ),
    "due_reminder": (
        SIGN + "尊敬的客户，您户号{{ account_masked }}电费{{ amount }}元将于{{ due_date }}到期，请及时缴纳，如已缴请忽略。",
        "缴费提醒（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}的电费{{ amount }}元将于{{ due_date }}到期，请及时缴纳。"
        "如已缴费请忽略本通知。",
        {"first": "缴费提醒", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元",
         "keyword3": "{{ due_date }}", "remark": "如已缴费请忽略。"},
    ),
    "overdue": (
        SIGN + "尊敬的客户，您户号{{ account_masked }}已欠电费{{ amount }}元（截止日{{ due_date }}），"
        "逾期将按日加收违约金，请尽快缴纳。",
        "欠费通知（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}已欠电费{{ amount }}元，缴费截止日为{{ due_date }}。"
        "逾期将按规定加收电费违约金，请尽快缴纳。",
        {"first": "欠费通知", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元",
         "keyword3": "{{ due_date }}", "remark": "逾期将加收违约金，请尽快缴纳。"},
    ),
    "disconnect_notice": (
        SIGN + "尊敬的客户，您户号{{ account_masked }}欠电费{{ amount }}元，如{{ disconnect_date }}前仍未缴清，"
        "将依法中止供电。",
        "欠费停电预告（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}欠电费{{ amount }}元。根据《电力供应与使用条例》，"
        "如{{ disconnect_date }}前仍未缴清，我公司将中止供电。缴清后将在24小时内恢复供电。",
        {"first": "欠费停电预告", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元",
         "keyword3": "{{ disconnect_date }}", "remark": "缴清欠费后24小时内恢复供电。"},
    ),
    "reconnection": (
        SIGN + "尊敬的客户，您户号{{ account_masked }}欠费已结清，我们将在24小时内恢复供电。",
        "复电通知（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}的欠费已结清，我们将在24小时内为您恢复供电。",
        {"first": "复电通知", "keyword1": "{{ account_number }}", "remark": "将在24小时内恢复供电。"},
    ),
    "payment_receipt": (
        SIGN + "您户号{{ account_masked }}于{{ paid_at }}缴费{{ amount }}元成功，感谢您的支持。",
        "缴费成功（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}于{{ paid_at }}成功缴费{{ amount }}元。",
        {"first": "缴费成功", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元",
         "keyword3": "{{ paid_at }}", "remark": "感谢您的支持。"},
    ),
    "refund": (
        SIGN + "您户号{{ account_masked }}的退费{{ amount }}元已办理，请注意查收。",
        "退费通知（户号{{ account_number }}）",
        "尊敬的{{ customer_name }}：\n您户号{{ account_number }}的退费{{ amount }}元已办理，请注意查收。",
        {"first": "退费通知", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元", "remark": "请注意查收。"},
    ),
    "outage": (
        SIGN + "因{{ reason }}，{{ area }}将于{{ start }}至{{ end }}停电，请提前做好准备。",
        "停电通知：{{ area }}",
        "尊敬的{{ customer_name }}：\n因{{ reason }}，{{ area }}将于{{ start }}至{{ end }}停电。给您带来不便，敬请谅解。",
        {"first": "停电通知", "keyword1": "{{ area }}", "keyword2": "{{ start }}至{{ end }}",
         "keyword3": "{{ reason }}", "remark": "给您带来不便，敬请谅解。"},
    ),
    "emergency": (
        SIGN + "{{ text }}",
        "紧急通知",
        "尊敬的{{ customer_name }}：\n{{ text }}",
        {"first": "紧急通知", "keyword1": "{{ text }}"},
    ),
    "greeting": (
        SIGN + "尊敬的{{ customer_name }}：{{ text }}",
        "节日问候",
        "尊敬的{{ customer_name }}：\n{{ text }}",
        {"first": "节日问候", "keyword1": "{{ text }}"},
    ),
}


def seed(apps, schema_editor):
    NoticeTemplate = apps.get_model("notify", "NoticeTemplate")
    rows = []
    for kind, (sms, subject, email, fields) in TEMPLATES.items():
        rows.append(NoticeTemplate(kind=kind, channel="sms", body=sms))
        rows.append(NoticeTemplate(kind=kind, channel="email", subject=subject, body=email))
        rows.append(NoticeTemplate(kind=kind, channel="wechat", body=sms.removeprefix(SIGN), wechat_fields=fields))
    NoticeTemplate.objects.bulk_create(rows, ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("notify", "NoticeTemplate").objects.filter(kind__in=list(TEMPLATES)).delete()


class Migration(migrations.Migration):
    dependencies = [("notify", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
