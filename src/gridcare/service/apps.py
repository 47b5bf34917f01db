from django.apps import AppConfig


class ServiceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gridcare.service"
    verbose_name = "95598客户服务"
