from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "gridcare.metering"
    label = "metering"
    verbose_name = "Metering"
