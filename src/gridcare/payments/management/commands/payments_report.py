"""`gridcare payments_report <collection-rate|arrears-ageing|channel-mix> --user <username> [filters] [-o file]`:
write a collection report as an Excel file, the same workbook as the console's export, scoped to the units
the given staff user may see under stats.view.

Filters: `--period YYYY-MM` (collection rate; default the last month whose due date has passed), `--as-of YYYY-MM-DD` (ageing; default
today), `--date-from/--date-to YYYY-MM-DD` (channel mix; default this month so far).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.permissions import Perm, has_perm
from gridcare.org.models import User
from gridcare.payments.reports.selectors import last_due_period
from gridcare.payments.reports.tables import REPORTS, build, filter_errors, parse_filters, workbook


class Command(BaseCommand):
    help = "收费报表导出 Excel：电费回收率、欠费账龄、缴费渠道构成"

    def add_arguments(self, parser):
        parser.add_argument("report", choices=REPORTS)
        parser.add_argument("--user", required=True, help="staff username whose units the report covers")
        parser.add_argument("--period", default="")
        parser.add_argument("--as-of", dest="as_of", default="")
        parser.add_argument("--date-from", dest="date_from", default="")
        parser.add_argument("--date-to", dest="date_to", default="")
        parser.add_argument(
            "-o", "--output", default="", help="file to write (default: <report>-<date>.xlsx)"
        )

    def handle(self, *args, report, user, output, **options):
        staff = User.objects.filter(username=user, is_active=True).first()
        if staff is None or not has_perm(staff, Perm.STATS_VIEW):
            raise CommandError(_("用户 %(u)s 不存在或无权查看统计报表") % {"u": user})
        today = timezone.localdate()
        params = {k: options[k] for k in ("period", "as_of", "date_from", "date_to")}
        default_period = "" if params["period"] else last_due_period(user=staff, today=today)
        f = parse_filters(params, today, default_period=default_period)
        errors = filter_errors(f, report)
        if errors:
            raise CommandError("；".join(errors))
        path = Path(output or f"{report}-{timezone.localdate():%Y%m%d}.xlsx")
        path.write_bytes(workbook(build(staff, f, report)))
        self.stdout.write(str(path))
