"""`gridcare import <kind> FILE.csv`: bulk imports, one subcommand per kind of file.

    gridcare import customers FILE.csv [--dry-run] [--unit CODE] [--user USERNAME]
    gridcare import readings FILE.csv [--dry-run] [--user USERNAME]

A new kind (e.g. `readings`) adds a `_add_<kind>` method registering its subparser and a `_import_<kind>`
method; `handle` dispatches on the subcommand name.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.scoping import PermissionDenied
from gridcare.customers import importer
from gridcare.metering import importer as readings_importer

KINDS = ("customers", "readings")


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

    def _import_customers(self, actor: Actor, options: dict[str, Any]) -> None:
        path, dry_run = options["file"], options["dry_run"]
        try:
            result = importer.import_customers(
                data=importer.read_path(path),
                actor=actor,
                dry_run=dry_run,
                file_name=path,
                unit_code=options.get("unit"),
            )
        except importer.ImportFileError as e:
            raise CommandError(str(e)) from None
        except PermissionDenied:
            raise CommandError(_("用户 %(u)s 没有批量导入权限") % {"u": options["user"]}) from None
        if result.errors:
            lines = [importer.format_error(e) for e in result.errors]
            head = _("%(file)s 有 %(n)d 处错误，未写入任何数据：") % {"file": path, "n": len(result.errors)}
            raise CommandError("\n".join([head, *lines]))
        if dry_run:
            self.stdout.write(
                _(
                    "%(n)d rows OK（校验通过，未写入）：将新建客户 %(c)d 个、沿用已有客户 %(a)d 个，新建户号 %(k)d 个"
                )
                % {
                    "n": result.rows,
                    "c": result.customers_created,
                    "a": result.customers_attached,
                    "k": result.accounts_created,
                }
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                _("导入完成：%(n)d 行，新建客户 %(c)d 个、沿用已有客户 %(a)d 个，新建户号 %(k)d 个")
                % {
                    "n": result.rows,
                    "c": result.customers_created,
                    "a": result.customers_attached,
                    "k": result.accounts_created,
                }
            )
        )

    def _import_readings(self, actor: Actor, options: dict[str, Any]) -> None:
        path, dry_run = options["file"], options["dry_run"]
        try:
            result = readings_importer.import_readings(
                data=importer.read_path(path), actor=actor, dry_run=dry_run, file_name=path
            )
        except importer.ImportFileError as e:
            raise CommandError(str(e)) from None
        except PermissionDenied:
            raise CommandError(_("用户 %(u)s 没有录入示数的权限") % {"u": options["user"]}) from None
        if result.errors:
            lines = [importer.format_error(e) for e in result.errors]
            head = _("%(file)s 有 %(n)d 处错误，未写入任何数据：") % {"file": path, "n": len(result.errors)}
            raise CommandError("\n".join([head, *lines]))
        counts = {"n": result.rows, "f": result.flagged}
        if dry_run:
            self.stdout.write(_("%(n)d rows OK（校验通过，未写入）：其中 %(f)d 条将记为待处理异常") % counts)
            return
        self.stdout.write(self.style.SUCCESS(_("导入完成：%(n)d 条示数，其中 %(f)d 条待处理异常") % counts))
