"""`gridcare reconcile_import --channel alipay --date 2026-11-23 FILE`: import a channel's daily statement;
`--channel collection_point|phone_bank --agent CODE`: a collection agent's settlement file."""

import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gridcare.core.locks import Conflict
from gridcare.core.scoping import PermissionDenied
from gridcare.payments.channels import withholding as wh
from gridcare.payments.reconciliation import services as recon

from ._batch_common import actor_and_unit, add_common, fail


class Command(BaseCommand):
    help = (
        "导入渠道日对账单（alipay / wechat / portal；代收点 collection_point、电话银行 phone_bank 须加 --agent；"
        "CSV，UTF-8 或 GBK）并列出差错"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--channel", required=True, choices=[c.value for c in recon.COLUMNS])
        parser.add_argument("--date", required=True, help="对账日期 YYYY-MM-DD")
        parser.add_argument("--agent", default="", metavar="CODE", help="代收机构编号（代收点、电话银行）")
        add_common(parser)

    def handle(self, *args, file, channel, agent, **options):
        actor, unit = actor_and_unit(options)
        try:
            day = datetime.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(_("日期格式应为 YYYY-MM-DD")) from None
        try:
            result = recon.reconcile_import(
                actor=actor,
                channel=channel,
                statement_date=day,
                data=wh.read_file(path=file),
                file_name=file,
                unit=unit,
                agent=agent,
            )
        except (ValidationError, PermissionDenied) as exc:
            raise fail(exc) from exc
        except Conflict as exc:  # another file of this statement was imported at the same moment
            raise CommandError(str(exc)) from exc
        self.stdout.write(recon.import_message(result))
        for e in result.statement.exceptions.filter(status="open"):
            self.stdout.write(f"  {e.kind}\t{e.channel_txn_id}\t{e.our_amount or ''}\t{e.their_amount or ''}")
