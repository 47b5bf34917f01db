"""The beat scheduler (settings CELERY_BEAT_SCHEDULER): django-celery-beat's DatabaseScheduler, which installs
the default schedules when it starts and catches up: a schedule whose last run (its newest Job row) is older
than its period runs once now, so a fresh `make run` shows the daily jobs' results without waiting for 06:00."""

import logging

from django_celery_beat.schedulers import DatabaseScheduler

from . import schedules
from .tasks import SCHEDULED_TASK

log = logging.getLogger("gridcare.jobs")


class Scheduler(DatabaseScheduler):
    def setup_schedule(self):
        created = schedules.ensure_schedules()
        if created:
            log.info("schedules installed: %s", ", ".join(created))
        super().setup_schedule()
        self.catch_up()

    def catch_up(self) -> list[str]:
        fired = []
        for name, entry in list(self.schedule.items()):
            if entry.task != SCHEDULED_TASK or not schedules.needs_catch_up(entry.model):
                continue
            log.info("schedule %s: last run older than its period, running once now (catch-up)", name)
            try:
                self.apply_async(
                    entry, advance=True
                )  # last_run_at = now: the regular tick does not fire it again
            except Exception:
                log.exception("schedule %s: catch-up could not be sent", name)
                continue
            fired.append(name)
        if fired:
            self.sync()
            self._schedule = self.all_as_schedule()
        return fired
