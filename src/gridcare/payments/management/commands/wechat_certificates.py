"""`gridcare wechat_certificates`: download WeChat Pay's platform certificates now (/v3/certificates) and say
what changed. It runs as a `payments.wechat_certificates` job (a worker, or this process when none answers);
the engine's schedule runs it every 12 hours. A channel down or answering garbage fails with the reason, and
nothing is written."""

from django.core.management.base import BaseCommand

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.jobs.cli import add_job_arguments, run_and_wait


class Command(BaseCommand):
    help = "下载微信支付平台证书（/v3/certificates），按序列号保存"

    def add_arguments(self, parser):
        add_job_arguments(parser)

    def handle(self, *args, inline=False, timeout=None, **options):
        job = run_and_wait(
            "payments.wechat_certificates",
            {},
            Actor(channel=Channel.JOB),
            self.stdout,
            inline=inline,
            timeout=timeout,
        )
        result = job.result or {}
        if result.get("skipped"):
            self.stdout.write(f"wechat_certificates: skipped ({result['skipped']})")
            return
        names = ", ".join
        self.stdout.write(
            f"wechat_certificates: added [{names(result.get('added', []))}] "
            f"updated [{names(result.get('updated', []))}] "
            f"unchanged [{names(result.get('unchanged', []))}] "
            f"signed_by {result.get('signed_by', '')}{' (bootstrap)' if result.get('bootstrap') else ''}"
        )
