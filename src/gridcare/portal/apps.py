from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "gridcare.portal"
    label = "portal"
    verbose_name = "Customer portal"
