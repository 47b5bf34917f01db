"""`gridcare notify_campaign create|launch|list`: holiday greeting campaigns from the command line.

gridcare notify_campaign create --name 春节问候 --unit 0101 --text "新春快乐" [--segment household]
    [--class residential] [--at 2027-02-16T09:00+08:00]
gridcare notify_campaign launch <id> [--inline]   (a job: waits for it with a progress bar)
gridcare notify_campaign list
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.jobs import cli as job_cli
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import JobState
from gridcare.jobs.services import BrokerUnavailable
from gridcare.notify import campaigns, selectors
from gridcare.notify.models import Campaign
from gridcare.org.models import SupplyUnit


class Command(BaseCommand):
    help = "节日问候活动：创建、发送、列表"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create")
        c.add_argument("--name", required=True)
        c.add_argument("--unit", required=True, help="supply unit code (its subtree receives the greeting)")
        c.add_argument("--text", required=True)
        c.add_argument("--segment", default="")
        c.add_argument("--class", dest="customer_class", default="")
        c.add_argument("--at", default="", help="send time, ISO 8601 with offset (default now)")
        launch = sub.add_parser("launch")
        launch.add_argument("campaign_id", type=int)
        launch.add_argument("--inline", action="store_true", help="run the launch job in this process")
        sub.add_parser("list")

    def handle(self, *args, action, **o):
        actor = Actor(channel=Channel.JOB)
        try:
            if action == "create":
                unit = SupplyUnit.objects.filter(code=o["unit"]).first()
                if unit is None:
                    raise CommandError(f"unit: 供电单位不存在：{o['unit']}")
                at = None
                if o["at"]:
                    try:
                        at = datetime.fromisoformat(o["at"])
                    except ValueError:
                        raise CommandError("at: 时间格式应为 ISO 8601，例如 2027-02-16T09:00+08:00") from None
                c = campaigns.campaign_create(
                    actor=actor,
                    name=o["name"],
                    unit_id=unit.pk,
                    text=o["text"],
                    segment=o["segment"],
                    customer_class=o["customer_class"],
                    scheduled_at=at,
                )
                n = campaigns.campaign_customers(c).count()
                self.stdout.write(f"campaign {c.pk} created: {n} customers")
            elif action == "launch":
                if not Campaign.objects.filter(pk=o["campaign_id"]).exists():
                    raise CommandError(f"campaign_id: 活动不存在：{o['campaign_id']}")
                try:
                    job = job_cli.execute(
                        job_services.create(
                            "notify.campaign_launch", {"campaign_id": o["campaign_id"]}, actor=actor
                        ),
                        self.stderr,
                        inline=o["inline"],
                    )
                except BrokerUnavailable:
                    raise CommandError(
                        "broker unavailable: 活动未发送；可加 --inline 在本进程中发送"
                    ) from None
                if job.state != JobState.SUCCEEDED:
                    raise CommandError(f"job {job.pk} failed: {job.error}")
                self.stdout.write(
                    f"campaign {o['campaign_id']} launched: {job_cli.result_of(job)['recipients']} customers"
                )
            else:
                for c in selectors.with_delivery_counts(Campaign.objects.all())[:100]:
                    self.stdout.write(
                        f"{c.pk}\t{c.name}\t{c.status}\trecipients={c.recipients}\t"
                        f"sent={c.n_sent}\tpending={c.n_pending}\tdead={c.n_dead}"
                    )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {m}" for f, ms in exc.message_dict.items() for m in ms)
            ) from None
