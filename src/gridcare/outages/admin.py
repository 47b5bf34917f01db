"""Django admin for outage reference data: events and their frozen rows are read here, written by the services
(console and API, audited), so every list here is read-only — budgets included (`planned_budget_set`)."""

from django.contrib import admin

from .models import ImportantContact, OutageArea, OutageEvent, PlannedBudget


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutageEvent)
class OutageEventAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "status", "title", "unit", "planned_start", "planned_end", "customers")
    list_select_related = ("unit",)
    list_filter = ("kind", "status")
    search_fields = ("number", "title")
    date_hierarchy = "planned_start"


@admin.register(OutageArea)
class OutageAreaAdmin(ReadOnlyAdmin):
    list_display = ("event", "area_name", "feeder", "customers", "dedicated", "est_restoration", "actual_end")
    list_select_related = ("event", "feeder")
    search_fields = ("event__number", "area_name")


@admin.register(ImportantContact)
class ImportantContactAdmin(ReadOnlyAdmin):
    list_display = ("event", "account", "method", "contacted_at", "confirmed_by_name")
    list_select_related = ("event", "account")
    search_fields = ("event__number", "account__account_number")


@admin.register(PlannedBudget)
class PlannedBudgetAdmin(ReadOnlyAdmin):
    list_display = ("unit", "year", "customer_hours", "updated_at")
    list_select_related = ("unit",)
    list_filter = ("year",)
