"""Reference data: the hall queue's business categories, and the default set-up of every existing hall (profile,
every category offered, every counter serving every category) — the same as `services.hall_setup_defaults`."""

from django.db import migrations

CATEGORIES = [
    ("payment", "A", "交费", True, 1),
    ("new_connection", "B", "业扩报装", False, 2),
    ("change", "C", "变更用电", False, 3),
    ("consult", "D", "咨询", True, 4),
    ("invoice", "E", "发票", True, 5),
    ("other", "F", "其他业务", False, 6),
]


def seed(apps, schema_editor):
    Category = apps.get_model("hall", "Category")
    ServiceHall = apps.get_model("org", "ServiceHall")
    HallProfile = apps.get_model("hall", "HallProfile")
    HallCategory = apps.get_model("hall", "HallCategory")
    CounterSetup = apps.get_model("hall", "CounterSetup")
    Counter = apps.get_model("org", "Counter")
    cats = []
    for code, letter, name, self_service, sort in CATEGORIES:
        c, _ = Category.objects.get_or_create(
            code=code, defaults={"letter": letter, "name": name, "self_service": self_service, "sort": sort}
        )
        cats.append(c)
    for hall in ServiceHall.objects.all():
        HallProfile.objects.get_or_create(hall=hall)
        if not HallCategory.objects.filter(hall=hall).exists():
            HallCategory.objects.bulk_create(HallCategory(hall=hall, category=c) for c in cats)
        for counter in Counter.objects.filter(hall=hall):
            setup, created = CounterSetup.objects.get_or_create(counter=counter)
            if created:
                setup.categories.set(cats)


class Migration(migrations.Migration):
    dependencies = [("hall", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
