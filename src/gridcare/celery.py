"""The Celery application: broker from CELERY_BROKER_URL (settings), tasks found in every app's tasks.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcare.settings")

app = Celery("gridcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
