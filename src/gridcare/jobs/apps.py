from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gridcare.jobs"
    verbose_name = _("后台任务")

    def ready(self) -> None:
        # Every app's job kinds register themselves when their `jobs` module is imported.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("jobs")
