"""`gridcare credit_run [--as-of YYYY-MM-DD] [--customer ID] [--inline] [--timeout S]`: a rating run (issue 17 §3)
as a job — the monthly run over every customer (`credit.monthly_run`; as_of defaults to the last day of the
previous month), or, with --customer, one customer (`credit.rate_customer`; as_of defaults to today). A worker
runs it, or this process when none answers; prints the counts and the grade distribution."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.jobs.cli import add_job_arguments, run_and_wait


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CommandError(f"--as-of: 日期格式应为 YYYY-MM-DD（收到 {value!r}）") from None


class Command(BaseCommand):
    help = "信用评价：月度评价全部客户，或 --customer 评价单个客户"

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: end of last month / today)")
        parser.add_argument("--customer", type=int, help="customer id: rate this customer only")
        add_job_arguments(parser)

    def handle(self, *args, as_of=None, customer=None, inline=False, timeout=None, **options):
        day = _day(as_of) if as_of else None
        actor = Actor(channel=Channel.JOB)
        if customer is not None:
            params = {"customer_id": customer, **({"as_of": day.isoformat()} if day else {})}
            job = run_and_wait(
                "credit.rate_customer", params, actor, self.stdout, inline=inline, timeout=timeout
            )
            r = job.result or {}
            self.stdout.write(
                f"credit customer {r.get('customer_id')}: grade {r.get('grade')}, total {r.get('total')}, "
                f"run #{r.get('run_id')}"
            )
            return
        params = {"as_of": day.isoformat()} if day else {}
        job = run_and_wait("credit.monthly_run", params, actor, self.stdout, inline=inline, timeout=timeout)
        r = job.result or {}
        grades = r.get("grade_counts") or {}
        secs = r.get("seconds") or {}
        self.stdout.write(
            f"credit run #{r.get('run_id')} {r.get('period')} (as of {r.get('as_of')}): "
            f"rated {r.get('customers_rated', 0)}, reasons stored {r.get('reasons_stored', 0)}; "
            + " ".join(f"{g}={n}" for g, n in grades.items())
        )
        if secs:
            self.stdout.write("seconds: " + ", ".join(f"{k} {v}" for k, v in secs.items()))
