"""The Celery application: broker from CELERY_BROKER_URL (settings), tasks found in every app's tasks.py."""

import logging
import os

from celery import Celery
from celery.signals import after_setup_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")

app = Celery("gridcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
def _one_line_per_record(logger, **kwargs):
    """Celery's `-l info` gives the root logger a handler; the gridcare and django loggers have their own console
    handler (settings.LOGGING, with the request id), so in a worker or beat each of their records printed twice.
    In Celery processes they stop propagating to the root; elsewhere (runserver, pytest's caplog) nothing changes."""
    for name in ("gridcare", "django"):
        logging.getLogger(name).propagate = False
