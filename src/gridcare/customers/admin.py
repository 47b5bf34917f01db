"""Django admin for grid topology reference data (feeders, transformer areas)."""

from django.contrib import admin

from .models import Feeder, TransformerArea


@admin.register(Feeder)
class FeederAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit", "voltage_level")
    list_select_related = ("unit",)
    search_fields = ("code", "name")


@admin.register(TransformerArea)
class TransformerAreaAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "feeder", "unit", "area_type", "capacity_kva")
    list_select_related = ("feeder", "unit")
    list_filter = ("area_type",)
    search_fields = ("code", "name")
    raw_id_fields = ("feeder",)
