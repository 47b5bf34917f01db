"""The demo tariff catalogue (codes used by the demo seed as Account/ServicePoint.tariff_code).

Prices are illustrative of a Chinese provincial catalogue, in yuan (decimal strings). The data is
frozen here on purpose: later price changes are new versions, added through the service.
"""

from django.db import migrations

GOV_FUND = {"code": "gov_fund", "label": "政府性基金及附加", "price": "0.029"}
RES_TIERS = {"basis": "annual", "thresholds": ["2760", "4800"], "surcharges": ["0.05", "0.30"]}

CATALOGUE = [
    ("RES-TIER", "居民生活阶梯电价", "residential_tier", "residential",
     "年阶梯：第一档 0–2760 kWh，第二档 2760–4800 kWh 加价 0.05 元，第三档 4800 kWh 以上加价 0.30 元。",
     {"energy_price": "0.538", "tiers": RES_TIERS}),
    ("RES-TIER-TOU", "居民生活阶梯分时电价", "residential_tier_tou", "residential",
     "先峰谷后阶梯：峰时段 08:00–22:00，谷时段 22:00–08:00；阶梯加价同居民阶梯电价。",
     {"tou_prices": {"peak": "0.568", "valley": "0.288"}, "tiers": RES_TIERS,
      "tou_windows": {"peak": "08:00-22:00", "valley": "22:00-08:00"}}),
    ("COM-FLAT", "一般工商业单一电价", "commercial_flat", "commercial",
     "不满 1 kV 一般工商业，单一制电度电价，另收政府性基金及附加。",
     {"energy_price": "0.65", "funds": [GOV_FUND]}),
    ("COM-TOU", "一般工商业分时电价", "commercial_tou", "commercial",
     "尖峰 19:00–21:00（夏季），高峰 08:00–11:00、18:00–23:00，平段 11:00–18:00，低谷 23:00–08:00。",
     {"tou_prices": {"sharp": "1.18", "peak": "1.05", "flat": "0.65", "valley": "0.32"}, "funds": [GOV_FUND]}),
    ("LI-TWO-PART", "大工业两部制电价", "large_industry_two_part", "large_industry",
     "1–10 kV 大工业：基本电费按容量 30 元/千伏安·月或按最大需量 40 元/千瓦·月；电度电费分时；力调标准 0.90。",
     {"tou_prices": {"sharp": "1.14", "peak": "0.95", "flat": "0.62", "valley": "0.30"},
      "basic": {"per_kva": "30", "per_kw": "40"}, "pf_target": "0.90", "funds": [GOV_FUND]}),
    ("AGR-FLAT", "农业生产电价", "agricultural_flat", "agricultural",
     "农业生产用电，单一制电度电价。",
     {"energy_price": "0.50"}),
]


def load(apps, schema_editor):
    Tariff = apps.get_model("billing", "Tariff")
    TariffVersion = apps.get_model("billing", "TariffVersion")
    for code, name, kind, klass, description, params in CATALOGUE:
        tariff, _created = Tariff.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "customer_class": klass, "description": description}
        )
        if not tariff.versions.exists():
            TariffVersion.objects.create(tariff=tariff, valid_from="2020-01-01", valid_to=None, parameters=params)


def unload(apps, schema_editor):
    Tariff = apps.get_model("billing", "Tariff")
    TariffVersion = apps.get_model("billing", "TariffVersion")
    codes = [row[0] for row in CATALOGUE]
    TariffVersion.objects.filter(tariff__code__in=codes).delete()
    Tariff.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
