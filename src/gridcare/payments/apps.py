from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "gridcare.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 — connects to billing's bills_issued signal
