"""Seed the working-day calendar from the `chinese-calendar` package: every year it covers, marked loaded."""

from django.db import migrations


def seed(apps, schema_editor):
    from gridcare.core.calendar import package_years

    CalendarYear = apps.get_model("core", "CalendarYear")
    CalendarDay = apps.get_model("core", "CalendarDay")
    for year, rows in sorted(package_years().items()):
        y, _ = CalendarYear.objects.get_or_create(year=year, defaults={"loaded": True, "source": "package"})
        if y.days.exists():
            continue
        CalendarDay.objects.bulk_create(
            [CalendarDay(year=y, date=day, is_working=working, name=name) for day, working, name in rows]
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0006_calendaryear_calendarday")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
