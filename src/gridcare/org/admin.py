"""Django admin for reference data only (units are created through services: their path is derived)."""

from django.contrib import admin

from .models import Counter, ServiceHall, SupplyUnit


@admin.register(SupplyUnit)
class SupplyUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "path")
    search_fields = ("code", "name")
    readonly_fields = ("code", "level", "parent", "path")

    def has_add_permission(self, request):
        return False


class CounterInline(admin.TabularInline):
    model = Counter
    extra = 0


@admin.register(ServiceHall)
class ServiceHallAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit", "address", "opening_hours")
    list_select_related = ("unit",)
    search_fields = ("code", "name")
    inlines = [CounterInline]
