"""Reference data the migrations seed (the working-day calendar, the time-limit policies): a transactional test
(live server, browser) flushes every table when it ends, so the next one puts them back with the migrations' own
functions."""

from importlib import import_module

from django.apps import apps


def ensure_reference_data() -> None:
    from gridcare.core.models import CalendarYear
    from gridcare.service.models import SlaPolicy

    if not CalendarYear.objects.exists():
        import_module("gridcare.core.migrations.0007_seed_calendar").seed(apps, None)
    if not SlaPolicy.objects.exists():
        import_module("gridcare.service.migrations.0002_seed_policies").seed(apps, None)
    from gridcare.hall.models import Category

    if not Category.objects.exists():
        import_module("gridcare.hall.migrations.0002_seed_categories").seed(apps, None)
