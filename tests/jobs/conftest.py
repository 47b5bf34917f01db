"""Fixtures of the job engine's tests: point the Celery app at another broker for one test."""

import pytest

from tests.brokers import broker_at


@pytest.fixture
def broker_down(settings):
    """The real engine (not eager) with its broker at a closed port."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with broker_at("redis://127.0.0.1:1/0") as app:
        yield app
