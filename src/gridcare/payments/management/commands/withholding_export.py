"""`gridcare withholding_export --bank 105 [--as-of YYYY-MM-DD] [--out FILE]`: export a debit batch."""

from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.scoping import PermissionDenied
from gridcare.payments.channels import withholding as wh

from ._batch_common import actor_and_unit, add_common, fail


class Command(BaseCommand):
    help = "生成银行代扣扣款文件（GBK CSV，格式见 gridcare.payments.channels.withholding）"

    def add_arguments(self, parser):
        parser.add_argument("--bank", required=True, help="银行代码，如 102、105、403")
        parser.add_argument("--as-of", help="欠费计算日期 YYYY-MM-DD（缺省今天）")
        parser.add_argument("--out", help="扣款文件路径（缺省：<批次号>.csv 于当前目录）")
        add_common(parser)

    def handle(self, *args, bank, as_of=None, out=None, **options):
        actor, unit = actor_and_unit(options)
        try:
            day = date.fromisoformat(as_of) if as_of else timezone.localdate()
        except ValueError:
            raise CommandError(_("日期格式应为 YYYY-MM-DD")) from None
        try:
            batch = wh.withholding_export(actor=actor, bank_code=bank, as_of=day, unit=unit)
        except (ValidationError, PermissionDenied) as exc:
            raise fail(exc) from exc
        path = out or wh.withholding_file_name(batch)
        with open(path, "wb") as fh:
            fh.write(wh.withholding_download(actor=actor, batch=batch))
        self.stdout.write(
            _("批次 %(b)s：%(n)d 笔，共 %(t)s 元，已写入 %(p)s")
            % {"b": batch.batch_no, "n": batch.item_count, "t": batch.total, "p": path}
        )
        if not wh.may_send_batch(actor):
            self.stdout.write(
                _("银行账号和户名已脱敏：该员工没有报盘权限（payment.batch_send），文件不能送银行")
            )
