from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "gridcare.payments"
    label = "payments"
    verbose_name = "Payments"
