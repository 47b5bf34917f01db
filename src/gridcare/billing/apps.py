from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "gridcare.billing"
    label = "billing"
    verbose_name = "Billing"
