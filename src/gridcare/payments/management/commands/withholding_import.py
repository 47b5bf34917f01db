"""`gridcare withholding_import FILE`: import a bank's result file (回盘文件)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from gridcare.core.scoping import PermissionDenied
from gridcare.payments.channels import withholding as wh

from ._batch_common import actor_and_unit, add_common, fail


class Command(BaseCommand):
    help = "导入银行代扣回盘文件：全部行通过校验才写入；重复导入不做任何更改"

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        add_common(parser)

    def handle(self, *args, file, **options):
        actor, _unit = actor_and_unit(options)
        try:
            result = wh.withholding_import(actor=actor, data=wh.read_file(path=file))
        except (ValidationError, PermissionDenied) as exc:
            raise fail(exc) from exc
        self.stdout.write(wh.import_message(result))
