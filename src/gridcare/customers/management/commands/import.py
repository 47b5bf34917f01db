"""`gridcare import <kind> FILE.csv`: bulk imports, one subcommand per kind of file.

    gridcare import customers FILE.csv [--dry-run] [--unit CODE] [--user USERNAME] [--inline]
    gridcare import readings FILE.csv [--dry-run] [--user USERNAME] [--inline]
    gridcare import outages FILE.csv [--dry-run] [--user USERNAME] [--inline]
    gridcare import voltage FILE.csv [--dry-run] [--user USERNAME] [--inline]
    gridcare import calendar FILE.csv|FILE.xlsx --year 2027 [--not-loaded] [--dry-run] [--user USERNAME] [--inline]

Each import is a job (customers.import, metering.import_readings): the file is checked as a whole first
(nothing queued when it is unusable), copied under var/imports/, and imported by a worker while this command
waits with a progress bar — or in this process with --inline, or when no worker answers.

A new kind (e.g. `readings`) adds a `_add_<kind>` method registering its subparser and a `_import_<kind>`
method; `handle` dispatches on the subcommand name.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from gridcare.core import jobfiles
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.scoping import PermissionDenied
from gridcare.customers import importer
from gridcare.jobs import cli as job_cli
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import JobState
from gridcare.jobs.services import BrokerUnavailable

KINDS = ("customers", "readings", "outages", "voltage", "calendar")


class Command(BaseCommand):
    help = "批量导入 CSV 文件。示例：gridcare import customers FILE.csv --dry-run"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND", title="kinds")
        for kind in KINDS:
            getattr(self, f"_add_{kind}")(sub)

    @staticmethod
    def _add_common(p: CommandParser) -> None:
        p.add_argument("file", metavar="FILE.csv", help="CSV 文件（UTF-8、带 BOM 的 UTF-8 或 GBK 编码）")
        p.add_argument("--dry-run", action="store_true", help="只校验并列出所有错误行，不写入任何数据")
        p.add_argument(
            "--inline", action="store_true", help="在本进程中运行导入任务（不交给后台 worker），同样显示进度"
        )
        p.add_argument(
            "--user",
            metavar="USERNAME",
            help="记在该员工名下（须有批量导入权限，只能导入其管辖单位）；缺省为系统",
        )

    def _add_customers(self, sub) -> None:
        p = sub.add_parser(
            "customers",
            help="客户、户号、用电地址、计量点和电能表（列格式见 docs/import-customers.md）",
            description="导入客户档案：每行一个户号及其用电地址、计量点和电能表。全部行通过校验才写入，否则一行也不写。",
        )
        self._add_common(p)
        p.add_argument(
            "--unit", metavar="CODE", help="只允许该供电单位及其下级单位的行；供电单位编码为空时以此填充"
        )

    def _add_readings(self, sub) -> None:
        p = sub.add_parser(
            "readings",
            help="电能表示数（采集系统导出，列格式见 docs/import-readings.md）",
            description="导入电能表示数：校验（VEE）后全部行通过才写入，否则一行也不写；触发校验规则的示数记为待处理异常。",
        )
        self._add_common(p)

    def _add_voltage(self, sub) -> None:
        p = sub.add_parser(
            "voltage",
            help="台区或电能表的整点电压（列格式见 docs/import-voltage.md）",
            description="导入整点电压读数：全部行通过校验才写入，否则一行也不写；写入后重算所涉月份的电压合格率。",
        )
        self._add_common(p)

    def _add_outages(self, sub) -> None:
        p = sub.add_parser(
            "outages",
            help="历史停电记录（列格式见 docs/import-outages.md）",
            description="导入已送电的历史停电：全部行通过校验才写入，否则一行也不写；不发送停电通知。",
        )
        self._add_common(p)

    def _add_calendar(self, sub) -> None:
        p = sub.add_parser(
            "calendar",
            help="一年的节假日与调休上班日（列格式见 docs/import-calendar.md）",
            description="导入某年的节假日（休）与调休上班日（班）：整年替换，同一日期出现两次或日期不在该年内时一行也不写；"
            "写入后重算涉及该年的工单时限。",
        )
        self._add_common(p)
        p.add_argument("--year", type=int, required=True, help="年份，如 2027")
        p.add_argument("--not-loaded", action="store_true", help="只录入，暂不标记为已发布")

    def handle(self, *args: Any, kind: str, **options: Any) -> None:
        actor = Actor(user=self._user(options.get("user")), channel=Channel.IMPORT)
        getattr(self, f"_import_{kind}")(actor, options)

    @staticmethod
    def _user(username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(_("用户 %(u)s 不存在或已停用") % {"u": username})
        return user

    def _run(
        self, kind: str, actor: Actor, options: dict[str, Any], params: dict[str, Any], perm_message: str
    ):
        """Copy the file under var/imports/ and run its import job; the finished job's result (errors included)."""
        path = options["file"]
        try:
            data = importer.read_path(path)
        except importer.ImportFileError as e:
            raise CommandError(str(e)) from None
        name = jobfiles.save(jobfiles.IMPORTS, data, "csv")
        try:
            job = job_cli.execute(
                job_services.create(
                    kind,
                    {"file": name, "file_name": path, "dry_run": options["dry_run"], **params},
                    actor=actor,
                ),
                self.stderr,
                inline=options["inline"],
            )
        except ValidationError as e:
            jobfiles.delete(jobfiles.IMPORTS, name)
            raise CommandError("\n".join(e.messages)) from None
        except PermissionDenied:
            jobfiles.delete(jobfiles.IMPORTS, name)
            raise CommandError(perm_message % {"u": options["user"]}) from None
        except BrokerUnavailable:
            jobfiles.delete(jobfiles.IMPORTS, name)
            raise CommandError(
                _("后台任务服务不可用（broker unavailable）：未开始导入。可加 --inline 在本进程中导入。")
            ) from None
        if job.state != JobState.SUCCEEDED:
            raise CommandError(
                _("导入任务 #%(id)d 失败，未写入任何数据：%(err)s") % {"id": job.pk, "err": job.error}
            )
        result = job_cli.result_of(job)
        if result["errors_total"]:
            lines = [importer.format_error(importer.RowError(**e)) for e in result["errors"]]
            if result["errors_total"] > len(lines):
                lines.append(_("……另有 %(n)d 处错误未列出") % {"n": result["errors_total"] - len(lines)})
            head = _("%(file)s 有 %(n)d 处错误，未写入任何数据：") % {
                "file": path,
                "n": result["errors_total"],
            }
            raise CommandError("\n".join([head, *lines]))
        return result

    def _import_customers(self, actor: Actor, options: dict[str, Any]) -> None:
        result = self._run(
            "customers.import",
            actor,
            options,
            {"unit_code": options.get("unit") or ""},
            _("用户 %(u)s 没有批量导入权限"),
        )
        counts = {
            "n": result["rows"],
            "c": result["customers_created"],
            "a": result["customers_attached"],
            "k": result["accounts_created"],
        }
        if options["dry_run"]:
            self.stdout.write(
                _(
                    "%(n)d rows OK（校验通过，未写入）：将新建客户 %(c)d 个、沿用已有客户 %(a)d 个，新建户号 %(k)d 个"
                )
                % counts
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                _("导入完成：%(n)d 行，新建客户 %(c)d 个、沿用已有客户 %(a)d 个，新建户号 %(k)d 个") % counts
            )
        )

    def _import_readings(self, actor: Actor, options: dict[str, Any]) -> None:
        result = self._run("metering.import_readings", actor, options, {}, _("用户 %(u)s 没有录入示数的权限"))
        counts = {"n": result["rows"], "f": result["flagged"]}
        if options["dry_run"]:
            self.stdout.write(_("%(n)d rows OK（校验通过，未写入）：其中 %(f)d 条将记为待处理异常") % counts)
            return
        self.stdout.write(self.style.SUCCESS(_("导入完成：%(n)d 条示数，其中 %(f)d 条待处理异常") % counts))

    def _import_voltage(self, actor: Actor, options: dict[str, Any]) -> None:
        result = self._run(
            "outages.import_voltage", actor, options, {}, _("用户 %(u)s 没有导入电压读数的权限")
        )
        counts = {"n": result["readings"], "m": "、".join(result["months"])}
        if options["dry_run"]:
            self.stdout.write(_("%(n)d rows OK（校验通过，未写入）：涉及月份 %(m)s") % counts)
            return
        self.stdout.write(
            self.style.SUCCESS(_("导入完成：%(n)d 条电压读数，已重算 %(m)s 的电压合格率") % counts)
        )

    def _import_outages(self, actor: Actor, options: dict[str, Any]) -> None:
        from gridcare.outages import jobs_import  # noqa: F401  (registers outages.import)

        result = self._run("outages.import", actor, options, {}, _("用户 %(u)s 没有录入停电的权限"))
        counts = {
            "n": result["rows"],
            "e": result["events"],
            "c": result["customers"],
            "h": result["customer_hours"],
        }
        if options["dry_run"]:
            self.stdout.write(
                _("%(n)d rows OK（校验通过，未写入）：将导入停电事件 %(e)d 个，停电 %(c)d 户次、%(h)s 时户")
                % counts
            )
            return
        self.stdout.write(
            self.style.SUCCESS(_("导入完成：停电事件 %(e)d 个，停电 %(c)d 户次、%(h)s 时户") % counts)
        )

    def _import_calendar(self, actor: Actor, options: dict[str, Any]) -> None:
        from gridcare.service import calendar_admin as cal

        year, path = options["year"], options["file"]
        try:
            parsed = cal.parse_file(importer.read_path(path))
            if parsed.errors:
                raise ValidationError({"file": parsed.errors})
            if options["dry_run"]:
                days = cal.validate_days(year, parsed.days)
                holidays = sum(1 for working, _name in days.values() if not working)
                self.stdout.write(
                    _("%(n)d rows OK（校验通过，未写入）：%(y)d 年节假日 %(h)d 天、调休上班 %(w)d 天")
                    % {"n": len(days), "y": year, "h": holidays, "w": len(days) - holidays}
                )
                return
            saved = cal.calendar_year_save(
                actor=actor,
                year=year,
                loaded=not options["not_loaded"],
                days=parsed.days,
                source="import",
                file_name=path,
                start_job=False,
            )
        except importer.ImportFileError as e:
            raise CommandError(str(e)) from None
        except ValidationError as e:
            head = _("%(file)s 有错误，未写入任何数据：") % {"file": path}
            raise CommandError("\n".join([head, *e.messages])) from None
        except PermissionDenied:
            raise CommandError(_("用户 %(u)s 没有维护工作日历的权限") % {"u": options["user"]}) from None
        counts = {"y": year, "h": saved.holidays, "w": saved.working_days}
        if not saved.changed:
            self.stdout.write(_("%(y)d 年日历内容未变化（节假日 %(h)d 天、调休上班 %(w)d 天）") % counts)
            return
        self.stdout.write(
            self.style.SUCCESS(_("导入完成：%(y)d 年节假日 %(h)d 天、调休上班 %(w)d 天") % counts)
        )
        if saved.recompute:
            job = job_cli.run_and_wait(
                cal.RECOMPUTE_KIND, {"years": [year]}, actor, self.stderr, inline=options["inline"]
            )
            result = job_cli.result_of(job)
            self.stdout.write(
                _("已重算工单时限：检查 %(e)d 条，更新 %(r)d 条")
                % {"e": result["examined"], "r": result["refreshed"]}
            )
