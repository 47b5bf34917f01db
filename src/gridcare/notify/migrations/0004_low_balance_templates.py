"""Templates of the prepaid low-balance alert (余额不足提醒, 智能交费)."""

from django.db import migrations

SIGN = "【供电服务】"
SMS = (SIGN + "尊敬的客户，您户号{{ account_masked }}的预存电费估算余额为{{ amount }}元"
       "{% if days_left is not None %}，预计可用{{ days_left }}天{% endif %}，请及时充值，以免影响用电。")
SUBJECT = "余额不足提醒（户号{{ account_number }}）"
EMAIL = ("尊敬的{{ customer_name }}：\n您户号{{ account_number }}的预存电费估算余额为{{ amount }}元"
         "{% if days_left is not None %}，按近期用电预计可用{{ days_left }}天{% endif %}。请及时通过网上国网、支付宝、"
         "微信或营业厅充值。")
FIELDS = {"first": "预存电费余额不足", "keyword1": "{{ account_number }}", "keyword2": "{{ amount }}元",
          "remark": "请及时充值，以免影响用电。"}


def seed(apps, schema_editor):
    NoticeTemplate = apps.get_model("notify", "NoticeTemplate")
    NoticeTemplate.objects.bulk_create([
        NoticeTemplate(kind="low_balance", channel="sms", body=SMS),
        NoticeTemplate(kind="low_balance", channel="email", subject=SUBJECT, body=EMAIL),
        NoticeTemplate(kind="low_balance", channel="wechat", body=SMS.removeprefix(SIGN), wechat_fields=FIELDS),
    ], ignore_conflicts=True)


def unseed(apps, schema_editor):
    apps.get_model("notify", "NoticeTemplate").objects.filter(kind="low_balance").delete()


class Migration(migrations.Migration):
    dependencies = [("notify", "0003_low_balance_kind")]
    operations = [migrations.RunPython(seed, unseed)]
