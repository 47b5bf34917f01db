from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "gridcare.notify"
    label = "notify"
    verbose_name = "Notifications"
