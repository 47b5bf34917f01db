"""`gridcare jobs_schedules`: install the default schedules that are missing (idempotent; beat does the same
when it starts) and list every schedule with its timing, last run and outcome."""

from django.core.management.base import BaseCommand

from gridcare.jobs import schedules


class Command(BaseCommand):
    help = "安装缺少的默认定时任务并列出全部定时任务"

    def handle(self, *args, **options):
        created = schedules.ensure_schedules()
        for name in created:
            self.stdout.write(f"installed {name}")
        for r in schedules.schedule_rows():
            last = f"#{r.last.pk} {r.last.state}" if r.last else "never run"
            state = "enabled" if r.task.enabled else "paused"
            self.stdout.write(f"{r.task.name}: {r.timing}, {state}, last run {last}")
