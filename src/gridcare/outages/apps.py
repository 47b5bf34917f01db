from django.apps import AppConfig


class OutagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gridcare.outages"
    verbose_name = "停电与供电可靠性"
