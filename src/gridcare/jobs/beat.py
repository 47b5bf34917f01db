"""The beat scheduler (settings CELERY_BEAT_SCHEDULER): django-celery-beat's DatabaseScheduler, which installs
the default schedules when it starts and catches up: a schedule whose last run (its newest Job row) is older
than its period runs once now, so a fresh `make run` shows the daily jobs' results without waiting for 06:00."""

import logging

from django_celery_beat.schedulers import DatabaseScheduler

from . import schedules

log = logging.getLogger("gridcare.jobs")


class Scheduler(DatabaseScheduler):
    def setup_schedule(self):
        created = schedules.ensure_schedules()
        if created:
            log.info("schedules installed: %s", ", ".join(created))
        super().setup_schedule()
        self.catch_up()

    def catch_up(self) -> list[str]:
        """Send each due schedule once. Read from the table, not `self.schedule`: django-celery-beat leaves out
        of it the crontabs whose hour is not near (a 06:00 schedule is absent at 09:00)."""
        from django.utils import timezone

        fired = []
        for task in schedules.scheduled_tasks().filter(enabled=True):
            try:
                if not schedules.needs_catch_up(task):
                    continue
            except ValueError:  # a crontab that never fires: beat goes on with the others
                log.error("schedule %s: its crontab never fires; skipped", task.name)
                continue
            log.info("schedule %s: last run older than its period, running once now (catch-up)", task.name)
            try:
                self.apply_async(self.Entry(task, app=self.app), advance=False)
            except Exception:
                log.exception("schedule %s: catch-up could not be sent", task.name)
                continue
            # The regular tick must not fire the same missed time again.
            type(task).objects.filter(pk=task.pk).update(last_run_at=timezone.now())
            fired.append(task.name)
        if fired:
            self._schedule = self.all_as_schedule()
            self._heap = None
        return fired
