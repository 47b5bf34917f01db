"""Metering fixtures: the shared world plus helpers to build read histories at fixed times."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.customers.models import Meter
from gridcare.metering import services
from gridcare.metering.choices import ReadSource


def at(y: int, m: int, d: int, h: int = 9) -> datetime:
    """Beijing time, aware."""
    return timezone.make_aware(datetime(y, m, d, h))  # noqa: DTZ001


SYSTEM = Actor()


def record(meter, when, total, source=ReadSource.MANUAL, **tou):
    return services.read_record(
        actor=SYSTEM, meter=meter, read_at=when, registers={"total": total, **tou}, source=source
    )


@pytest.fixture
def w(world):
    world.meter_a = Meter.objects.get(asset_number="M3100000001")
    world.meter_b = Meter.objects.get(asset_number="M3200000001")
    return world


def dec(x) -> Decimal:
    return Decimal(str(x))


@pytest.fixture(autouse=True)
def _job_files(settings, tmp_path_factory):
    """Uploads of import jobs go under a temporary var/, never the worktree's."""
    settings.VAR_DIR = tmp_path_factory.mktemp("var")
    return settings.VAR_DIR
