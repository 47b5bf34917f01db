"""Django admin for the payments app's reference data: the dunning policies (催费策略)."""

from django.contrib import admin

from .models import DunningPolicy


@admin.register(DunningPolicy)
class DunningPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "reminder_days_before",
        "overdue_days_after",
        "disconnect_after_days",
        "disconnect_min_arrears",
        "notice_days_residential",
        "notice_days_other",
        "reconnect_hours",
    )
    list_select_related = ("unit",)
    raw_id_fields = ("unit",)
