from django.apps import AppConfig


class CreditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gridcare.credit"
    verbose_name = "客户信用评价"
