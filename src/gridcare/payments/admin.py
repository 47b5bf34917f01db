"""Django admin for the payments app's reference data: the dunning policies (催费策略), collection agents (代收机构)."""

from django.contrib import admin

from .models import CollectionAgent, DunningPolicy


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


@admin.register(CollectionAgent)
class CollectionAgentAdmin(admin.ModelAdmin):
    """Collection agents (代收机构): registered with `gridcare agent_add` (key and audit); here only the name
    and the enabled flag change."""

    list_display = ("code", "name", "kind", "unit", "enabled", "last_seen_at")
    list_filter = ("kind", "enabled")
    list_select_related = ("unit",)
    search_fields = ("code", "name")
    readonly_fields = ("code", "kind", "unit", "public_key", "created_at", "last_seen_at")

    def has_add_permission(self, request) -> bool:
        return False
