from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "gridcare.core"
    label = "core"
    verbose_name = "GridCare core"

    def ready(self) -> None:
        from .lookups import register

        register()
