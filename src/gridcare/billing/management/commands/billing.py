"""`gridcare billing run --period YYYY-MM [--route CODE] [--issue] [--inline]`: run (or continue) a billing run.
`gridcare billing delete RUN_ID`: delete a run that issued nothing (its draft bills go with it).

Without --route the run covers every route of the top supply unit. The run is resumable: after a
crash, the same command continues from the run's checkpoint and never bills an account twice.
The run is a `billing.run` job: the command queues it and waits, showing a progress bar, while the workers
bill its chunks. With `--inline`, or when no worker answers, the command bills the chunks itself (same bar).
A month that has not ended yet (the current month or a later one) is refused, as on the page and the API;
`--today YYYY-MM-DD` sets the day it is checked against (the demo builders pass their injected today).
"""

import argparse
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from gridcare.billing import services
from gridcare.core.audit import Actor
from gridcare.core.locks import Conflict
from gridcare.jobs.cli import workers_available
from gridcare.jobs.services import BrokerUnavailable, eager
from gridcare.metering.models import Route
from gridcare.org.models import SupplyUnit

BAR = 30
POLL_SECONDS = 0.25


def _wait(run_id: int, job_id: int, progress):
    """Follow the run's job until it ends, reporting the run's progress; the job's error when it failed."""
    import time

    from gridcare.billing.models import BillingRun
    from gridcare.jobs.choices import FINISHED, JobState
    from gridcare.jobs.models import Job

    while True:
        run = BillingRun.objects.select_related("unit").get(pk=run_id)
        progress(run)
        job = Job.objects.get(pk=job_id)
        if job.state in FINISHED:
            if job.state == JobState.FAILED:
                raise RuntimeError(job.error or run.error)
            return BillingRun.objects.select_related("unit").get(pk=run_id)
        time.sleep(POLL_SECONDS)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("日期应为 YYYY-MM-DD：%(v)s") % {"v": value[:20]}) from None


class Command(BaseCommand):
    help = "Billing runs (电费发行): gridcare billing run --period 2026-10 [--route R01] [--issue]"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="bill the accounts of a route (or of all routes) for a month")
        run.add_argument("--period", required=True, help="YYYY-MM")
        run.add_argument("--route", help="route code (抄表段编号); all routes when omitted")
        run.add_argument("--issue", action="store_true", help="issue the draft bills when the run is done")
        run.add_argument("--chunk-size", type=int, default=None)
        run.add_argument(
            "--inline", action="store_true", help="bill in this process instead of queueing the run's job"
        )
        run.add_argument("--unit", default=None, help="supply unit code: all routes of that unit and below")
        run.add_argument(
            "--today",
            type=_day,
            default=None,
            help="YYYY-MM-DD: the day the month must have ended by (default: today; demo builders pass theirs)",
        )
        delete = sub.add_parser("delete", help="delete a run that issued nothing (its draft bills too)")
        delete.add_argument("run_id", type=int)

    def handle(self, *args, action, **options):
        if action == "delete":
            return self._delete(options["run_id"])
        return self._run(**options)

    def _delete(self, run_id: int):
        from gridcare.billing.models import BillingRun

        run = BillingRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(_("没有编号为 %(id)s 的计费批次") % {"id": run_id})
        try:
            removed = services.billing_run_delete(actor=Actor(), run=run)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            _("已删除计费批次 %(p)s（草稿账单 %(n)s 张）") % {"p": run.period, "n": removed["bills"]}
        )

    def _run(self, *, period, route=None, issue=False, chunk_size=None, unit=None, today=None, **options):
        unit_code = unit
        actor = Actor()
        unit = None
        route_obj = None
        if route:
            route_obj = Route.objects.select_related("unit").filter(code=route).first()
            if route_obj is None:
                raise CommandError(_("未知的抄表段：%(c)s") % {"c": route})
        elif unit_code:
            unit = SupplyUnit.objects.filter(code=unit_code).first()
            if unit is None:
                raise CommandError(_("未知的供电单位：%(c)s") % {"c": unit_code})
        else:
            unit = SupplyUnit.objects.filter(parent__isnull=True).order_by("pk").first()
            if unit is None:
                raise CommandError(_("系统中还没有供电单位"))

        def progress(r):
            done = BAR * r.percent // 100
            self.stdout.write(
                f"\r[{'#' * done}{'.' * (BAR - done)}] {r.percent:3d}% {r.processed_count}/{r.total_count}",
                ending="",
            )
            self.stdout.flush()

        inline = options.get("inline") or not (eager() or workers_available())
        if inline and not options.get("inline") and not eager():
            self.stdout.write(_("没有工作进程应答，在本进程内执行"))
        try:
            if inline:
                run = services.billing_run_start(
                    actor=actor, period=period, route=route_obj, unit=unit, today=today
                )
                run = services.billing_run_execute(run.pk, chunk_size=chunk_size, progress=progress)
            else:
                run, job = services.billing_run_submit(
                    actor=actor, period=period, route=route_obj, unit=unit, today=today, chunk_size=chunk_size
                )
                run = _wait(run.pk, job.pk, progress)
        except ValidationError as exc:
            raise CommandError("; ".join(m for msgs in exc.message_dict.values() for m in msgs)) from exc
        except (Conflict, BrokerUnavailable) as exc:  # already executing, or no broker: nothing was done
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            self.stdout.write("")
            raise CommandError(
                _("账期 %(p)s 计费中断（可重新执行以继续）：%(e)s") % {"p": period, "e": exc}
            ) from exc
        self.stdout.write("")
        self.stdout.write(
            _("账期 %(p)s：户数 %(t)s，已处理 %(d)s，出账 %(b)s，异常 %(e)s")
            % {
                "p": run.period,
                "t": run.total_count,
                "d": run.processed_count,
                "b": run.billed_count,
                "e": run.exception_count,
            }
        )
        if issue:
            n = services.bills_issue(actor=actor, run=run)
            self.stdout.write(_("已发行账单 %(n)s 张") % {"n": n})
