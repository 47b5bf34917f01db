"""The tariff editor (电价编辑): a form block per component of a tariff version, and the readable view of a
version's parameters.

Blocks: header (effective dates), energy price (single or TOU: a price or a ratio to the flat price per period,
and the clock windows of the periods covering the day once), tiers (阶梯: rows of from/to kWh and the surcharge),
basic charge (基本电费: by capacity and/or maximum demand), the power-factor standard (力调: the table rows are
the statutory table, shown, not edited) and the funds lines (基金及附加). The editor parses and checks rows and
names each error by row and field in the user's language ("第2档：起始电量与上一档重叠"); the JSON it builds
then passes the same `parse_params` as every other path (API, raw JSON form, billing runs).

The editor always works on request data (a QueryDict-like mapping): a GET starts from the current version's
parameters turned into that shape (`params_to_data`); adding or removing a row rewrites the data and renders it
again without judging it (`show_errors=False`).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import forms
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .pf_table import PF_TABLES, TARGETS, adjustment_percent
from .rating import (
    KWH_PLACES,
    PRICE_PLACES,
    TOU_PERIODS,
    RatingError,
    TariffParams,
    clock,
    parse_clock,
    parse_params,
    tou_label,
    tou_window_check,
)

RATIO_PLACES = 4
PF_PLACES = 3
MAX_VALUE = Decimal("100000000")
MAX_ROWS = 20
PRICE_STEP = Decimal(1).scaleb(-PRICE_PLACES)
FUND_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class Bad(Exception):
    """A value's problem, phrased to follow the field's name ("最多 4 位小数")."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


def number(raw: Any, *, places: int, required: bool = False) -> Decimal | None:
    """A non-negative decimal with at most `places` decimals from form text; None when blank (and allowed)."""
    text = str(raw or "").strip()
    if not text:
        if required:
            raise Bad(_("未填写"))
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Bad(_("不是有效的数字")) from None
    if not value.is_finite():
        raise Bad(_("不是有效的数字"))
    if value < 0:
        raise Bad(_("不能为负数"))
    if value.as_tuple().exponent < -places:
        raise Bad(_("最多 %(n)s 位小数") % {"n": places})
    if value >= MAX_VALUE:
        raise Bad(_("数值过大"))
    return value


def field_problem(label, problem: str) -> str:
    """ "加价" + "未填写" → 加价未填写 (in English: "Surcharge: missing")."""
    return _("%(field)s%(problem)s") % {"field": label, "problem": problem}


def _text(label, **attrs):
    return forms.CharField(
        label=label,
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs}),
    )


class RowForm(forms.Form):
    """One row of a component table. Every field is text, parsed by `number`, so each message can name the
    row and the field ("第2档：加价最多 4 位小数")."""

    use_required_attribute = False

    def __init__(self, *args, row_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.row_label = row_label
        self.values: dict[str, Any] = {}

    def row_error(self, name: str | None, message: str) -> None:
        self.add_error(name, _("%(row)s：%(msg)s") % {"row": self.row_label, "msg": message})

    def field_error(self, name: str, problem: str) -> None:
        self.row_error(name, field_problem(self.fields[name].label, problem))

    def parse(self, name: str, *, places: int, required: bool = False) -> Decimal | None:
        try:
            value = number(self.cleaned_data.get(name), places=places, required=required)
        except Bad as exc:
            self.field_error(name, exc.problem)
            value = None
        self.values[name] = value
        return value


class RowFormSet(BaseFormSet):
    """Rows numbered as shown; blank rows are skipped."""

    row_format = "%(n)s"

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "row_label": str(self.row_format) % {"n": index + 1}}

    def filled(self) -> list[RowForm]:
        """The rows with anything typed in them, in order (only after `is_valid()`)."""
        return [f for f in self.forms if f.has_changed()]


class TierRow(RowForm):
    start = _text(gettext_lazy("起始电量"))
    end = _text(gettext_lazy("截止电量"), placeholder=gettext_lazy("留空表示以上"))
    surcharge = _text(gettext_lazy("加价"))

    def clean(self):
        self.parse("start", places=KWH_PLACES, required=True)
        self.parse("end", places=KWH_PLACES)
        self.parse("surcharge", places=PRICE_PLACES)
        return self.cleaned_data


class WindowRow(RowForm):
    period = forms.CharField(label=gettext_lazy("时段"), required=False, max_length=10, widget=forms.Select)
    start = forms.CharField(
        label=gettext_lazy("开始时间"),
        required=False,
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "08:00", "inputmode": "numeric", "autocomplete": "off"}),
    )
    end = forms.CharField(
        label=gettext_lazy("结束时间"),
        required=False,
        max_length=5,
        widget=forms.TextInput(attrs={"placeholder": "22:00", "inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].widget.choices = [("", "—"), *((p, tou_label(p)) for p in TOU_PERIODS)]

    def clean(self):
        period = self.cleaned_data.get("period") or ""
        if period not in TOU_PERIODS:
            self.field_error("period", _("未选择"))
            period = ""
        start = parse_clock(self.cleaned_data.get("start"))
        end = parse_clock(self.cleaned_data.get("end"), end=True)
        if start is None:
            self.field_error("start", _("格式应为 HH:MM（如 08:00）"))
        if end is None:
            self.field_error("end", _("格式应为 HH:MM（如 22:00，24:00 表示午夜）"))
        if start is not None and end is not None and start == end % (24 * 60):
            self.row_error("end", _("结束时间不能与开始时间相同"))
            end = None
        self.values = {"period": period, "start": start, "end": end}
        return self.cleaned_data


class FundRow(RowForm):
    code = forms.CharField(
        label=gettext_lazy("代码"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    label = forms.CharField(label=gettext_lazy("名称"), required=False, max_length=50)
    price = _text(gettext_lazy("单价"))

    def clean(self):
        code = (self.cleaned_data.get("code") or "").strip()
        label = (self.cleaned_data.get("label") or "").strip()
        if not code:
            self.field_error("code", _("未填写"))
        elif not set(code) <= FUND_CODE_CHARS:
            self.field_error("code", _("只能包含字母、数字和下划线"))
        if not label:
            self.field_error("label", _("未填写"))
        self.parse("price", places=PRICE_PLACES, required=True)
        self.values.update(code=code, label=label)
        return self.cleaned_data


TierFormSet = formset_factory(TierRow, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS)
TierFormSet.row_format = gettext_lazy("第%(n)s档")
WindowFormSet = formset_factory(
    WindowRow, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS
)
WindowFormSet.row_format = gettext_lazy("第%(n)s个时段")
FundFormSet = formset_factory(FundRow, formset=RowFormSet, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS)
FundFormSet.row_format = gettext_lazy("第%(n)s项基金")
FORMSETS = {"tiers": TierFormSet, "windows": WindowFormSet, "funds": FundFormSet}

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class VersionForm(forms.Form):
    """The version's dates and its single-valued components."""

    use_required_attribute = False

    valid_from = forms.DateField(
        label=gettext_lazy("生效日期"),
        widget=DATE,
        error_messages={
            "required": gettext_lazy("请填写生效日期"),
            "invalid": gettext_lazy("生效日期格式应为 YYYY-MM-DD"),
        },
    )
    valid_to = forms.DateField(
        label=gettext_lazy("失效日期（含，可空）"),
        widget=DATE,
        required=False,
        error_messages={"invalid": gettext_lazy("失效日期格式应为 YYYY-MM-DD")},
    )
    close_current = forms.BooleanField(
        label=gettext_lazy("将长期有效的现行版本截止到新版本生效日的前一天"), required=False
    )
    energy_mode = forms.ChoiceField(
        label=gettext_lazy("电度电价"),
        choices=[("single", gettext_lazy("单一电价")), ("tou", gettext_lazy("分时电价（峰谷）"))],
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("请选择单一电价或分时电价")},
    )
    energy_price = _text(gettext_lazy("电度电价（元/kWh）"))
    tier_basis = forms.ChoiceField(
        label=gettext_lazy("阶梯周期"),
        required=False,
        choices=[
            ("annual", gettext_lazy("年阶梯（每年 1 月重新累计）")),
            ("monthly", gettext_lazy("月阶梯")),
        ],
    )
    basic_per_kva = _text(gettext_lazy("按容量（元/千伏安·月）"))
    basic_per_kw = _text(gettext_lazy("按最大需量（元/千瓦·月）"))
    pf_target = forms.ChoiceField(
        label=gettext_lazy("功率因数考核标准"),
        required=False,
        choices=[("", gettext_lazy("不考核")), *((str(t), str(t)) for t in TARGETS[::-1])],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for p in TOU_PERIODS:
            self.fields[f"tou_price_{p}"] = _text(_("%(p)s电价（元/kWh）") % {"p": tou_label(p)})
            if p != "flat":
                self.fields[f"tou_ratio_{p}"] = _text(_("%(p)s：平段电价的倍数") % {"p": tou_label(p)})
        self.values: dict[str, Any] = {}

    def parse(self, name: str, label: str, *, places: int) -> Decimal | None:
        try:
            value = number(self.cleaned_data.get(name), places=places)
        except Bad as exc:
            self.add_error(name, field_problem(label, exc.problem))
            value = None
        self.values[name] = value
        return value

    def clean(self):
        d = self.cleaned_data
        if d.get("valid_from") and d.get("valid_to") and d["valid_to"] < d["valid_from"]:
            self.add_error("valid_to", _("失效日期不能早于生效日期"))
        return d

    def parse_prices(self, mode: str) -> None:
        """Parse the price fields the chosen mode uses (the other mode's fields are ignored, not judged)."""
        if mode == "single":
            self.parse("energy_price", _("电度电价"), places=PRICE_PLACES)
        else:
            for p in TOU_PERIODS:
                self.parse(f"tou_price_{p}", _("%(p)s：电价") % {"p": tou_label(p)}, places=PRICE_PLACES)
                if p != "flat":
                    self.parse(f"tou_ratio_{p}", _("%(p)s：倍数") % {"p": tou_label(p)}, places=RATIO_PLACES)
        self.parse("basic_per_kva", _("基本电价（按容量）"), places=PRICE_PLACES)
        self.parse("basic_per_kw", _("基本电价（按最大需量）"), places=PRICE_PLACES)

    def tou_fields(self):
        """(label, price field, ratio field or None) per TOU period, for the template."""
        return [
            (tou_label(p), self[f"tou_price_{p}"], self[f"tou_ratio_{p}"] if p != "flat" else None)
            for p in TOU_PERIODS
        ]


class SampleForm(forms.Form):
    """The sample consumption a preview rates: kWh per TOU period (or in total), year-to-date kWh, capacity,
    maximum demand and power factor."""

    use_required_attribute = False

    kwh_total = _text(gettext_lazy("总电量（kWh，单一电价）"))
    kwh_sharp = _text(gettext_lazy("尖峰电量（kWh）"))
    kwh_peak = _text(gettext_lazy("高峰电量（kWh）"))
    kwh_flat = _text(gettext_lazy("平段电量（kWh）"))
    kwh_valley = _text(gettext_lazy("低谷电量（kWh）"))
    ytd_kwh_before = _text(gettext_lazy("本年此前累计电量（kWh，年阶梯）"))
    capacity_kva = _text(gettext_lazy("受电容量（kVA）"))
    max_demand_kw = _text(gettext_lazy("最大需量（kW）"))
    power_factor = _text(gettext_lazy("功率因数"))

    PLACES = {"power_factor": PF_PLACES}

    def clean(self):
        self.values = {}
        for name in self.fields:
            try:
                self.values[name] = number(
                    self.cleaned_data.get(name), places=self.PLACES.get(name, KWH_PLACES)
                )
            except Bad as exc:
                self.add_error(
                    name, _("试算：%(m)s") % {"m": field_problem(self.fields[name].label, exc.problem)}
                )
        return self.cleaned_data


# Engine error fields (as the quote API names them) → the sample form's fields.
SAMPLE_FIELD_OF = {
    "kwh.total": "kwh_total",
    **{f"kwh.{p}": f"kwh_{p}" for p in TOU_PERIODS},
    "ytd_kwh_before": "ytd_kwh_before",
    "capacity_kva": "capacity_kva",
    "max_demand_kw": "max_demand_kw",
    "power_factor": "power_factor",
}


@dataclass
class Block:
    """Errors of a whole component (coverage of the day, too few tiers), shown above its rows."""

    tou: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    funds: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def any(self) -> bool:
        return any((self.tou, self.windows, self.tiers, self.funds, self.other))


def _fmt(value: Decimal) -> str:
    return format(value, "f")


class TariffEditor:
    """The version form, the three row tables and the sample, validated together into `params`."""

    def __init__(self, data, *, show_errors: bool = True):
        self.data = data
        self.show_errors = show_errors
        self.version = VersionForm(data)
        self.tiers = TierFormSet(data, prefix="tiers")
        self.windows = WindowFormSet(data, prefix="windows")
        self.funds = FundFormSet(data, prefix="funds")
        self.sample = SampleForm(data, prefix="sample")
        self.block = Block()
        self.params: dict[str, Any] | None = None

    # -------------------------------------------------------------- validation

    def is_valid(self) -> bool:
        """Check every block; on success `self.params` is the version's JSON (decimal strings)."""
        ok = self.version.is_valid()
        for fs in (self.tiers, self.windows, self.funds):
            fs.is_valid()
            for message in fs.non_form_errors():
                self.block.other.append(str(message))
        mode = self.version.cleaned_data.get("energy_mode")
        if not mode:
            return False
        self.version.parse_prices(mode)
        params: dict[str, Any] = {}
        if mode == "single":
            self._single(params)
        else:
            self._tou(params)
        self._tiers(params)
        self._basic(params)
        pf = self.version.cleaned_data.get("pf_target")
        if pf:
            params["pf_target"] = pf
        self._funds(params)
        ok = ok and not self.has_errors()
        if ok:
            try:
                parse_params(params)
            except RatingError as exc:  # a rule the rows above do not cover: say it, never save it
                self.block.other.extend(f"{k}：{v}" for k, v in exc.errors.items())
                ok = False
        self.params = params if ok else None
        return ok

    def has_errors(self) -> bool:
        tables = [self.tiers, self.funds]
        if self.version.cleaned_data.get("energy_mode") == "tou":
            tables.append(self.windows)
        return (
            bool(self.version.errors) or any(f.errors for fs in tables for f in fs.forms) or self.block.any()
        )

    def _single(self, params):
        price = self.version.values.get("energy_price")
        if price is None and "energy_price" not in self.version.errors:
            self.version.add_error("energy_price", _("单一电价须填写电度电价"))
        elif price is not None:
            params["energy_price"] = _fmt(price)

    def _tou(self, params):
        v = self.version
        flat = v.values.get("tou_price_flat")
        prices: dict[str, Decimal] = {}
        for p in TOU_PERIODS:
            price = v.values.get(f"tou_price_{p}")
            ratio = v.values.get(f"tou_ratio_{p}") if p != "flat" else None
            name = f"tou_ratio_{p}"
            if price is not None and ratio is not None:
                v.add_error(name, _("%(p)s：电价与倍数只能填写一项") % {"p": tou_label(p)})
            elif ratio is not None and flat is None:
                v.add_error(name, _("%(p)s：按倍数计价须先填写平段电价") % {"p": tou_label(p)})
            elif ratio is not None:
                prices[p] = (flat * ratio).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)
            elif price is not None:
                prices[p] = price
        if len(prices) < 2 and not any(f"tou_{k}" in n for n in v.errors for k in ("price", "ratio")):
            self.block.tou.append(_("分时电价须至少填写两个时段的电价"))
        if prices:
            params["tou_prices"] = {p: _fmt(prices[p]) for p in TOU_PERIODS if p in prices}
        self._windows(params, prices)

    def _windows(self, params, prices):
        rows = self.windows.filled()
        good: list[tuple[RowForm, str, int, int]] = []
        for f in rows:
            val = f.values
            if val.get("period") and prices and val["period"] not in prices:
                f.row_error("period", _("%(p)s没有填写电价") % {"p": tou_label(val["period"])})
            elif not f.errors:
                good.append((f, val["period"], val["start"], val["end"]))
        if not rows:
            self.block.windows.append(_("请划分分时时段，覆盖全天 24 小时"))
            return
        if len(good) != len(rows):
            return
        overlaps, gaps = tou_window_check([(s, e) for _f, _p, s, e in good])
        for i, j in overlaps.items():
            other = good[j]
            good[i][0].row_error(
                "start",
                _("与%(row)s（%(p)s %(a)s-%(b)s）重叠")
                % {
                    "row": other[0].row_label,
                    "p": tou_label(other[1]),
                    "a": clock(other[2]),
                    "b": clock(other[3]),
                },
            )
        if gaps:
            self.block.windows.append(
                _("分时时段未覆盖全天 24 小时，缺少：%(g)s")
                % {"g": "、".join(f"{clock(a)}-{clock(b)}" for a, b in gaps)}
            )
        unused = [p for p in TOU_PERIODS if p in prices and p not in {g[1] for g in good}]
        if unused:
            self.block.windows.append(
                _("%(p)s已填写电价，但没有划分时段") % {"p": "、".join(tou_label(p) for p in unused)}
            )
        if overlaps or gaps or unused:
            return
        windows: dict[str, list[str]] = {}
        for _f, p, s, e in sorted(good, key=lambda g: g[2]):
            windows.setdefault(p, []).append(f"{clock(s)}-{clock(e)}")
        params["tou_windows"] = {
            p: (windows[p][0] if len(windows[p]) == 1 else windows[p]) for p in TOU_PERIODS if p in windows
        }

    def _tiers(self, params):
        rows = self.tiers.filled()
        if not rows:
            return
        if len(rows) == 1:
            self.block.tiers.append(_("阶梯电价至少需要两档；不分档请删除全部档位"))
            return
        last = len(rows)
        prev_end: Decimal | None = None
        for n, f in enumerate(rows, start=1):
            start, end, surcharge = (f.values.get(k) for k in ("start", "end", "surcharge"))
            if start is not None:
                if n == 1 and start != 0:
                    f.row_error("start", _("第一档的起始电量须为 0"))
                elif n > 1 and prev_end is not None and start < prev_end:
                    f.row_error("start", _("起始电量与上一档重叠"))
                elif n > 1 and prev_end is not None and start > prev_end:
                    f.row_error(
                        "start",
                        _("起始电量与上一档之间有空档（上一档截止于 %(e)s kWh）") % {"e": _fmt(prev_end)},
                    )
            if end is not None and start is not None and end <= start:
                f.row_error("end", _("截止电量须大于起始电量"))
            if n < last and end is None and "end" not in f.errors:
                f.row_error("end", _("只有最后一档可以不填截止电量"))
            if n == last and (end is not None or "end" in f.errors):
                f.row_error("end", _("最后一档的截止电量须留空（以上不封顶）"))
            if n == 1 and surcharge not in (None, 0):
                f.row_error("surcharge", _("第一档按电度电价计费，加价须为 0 或留空"))
            if n > 1 and surcharge is None and "surcharge" not in f.errors:
                f.field_error("surcharge", _("未填写"))
            prev_end = end
        if not any(f.errors for f in rows):
            params["tiers"] = {
                "basis": self.version.cleaned_data.get("tier_basis") or "annual",
                "thresholds": [_fmt(f.values["end"]) for f in rows[:-1]],
                "surcharges": [_fmt(f.values["surcharge"]) for f in rows[1:]],
            }

    def _basic(self, params):
        kva, kw = self.version.values.get("basic_per_kva"), self.version.values.get("basic_per_kw")
        basic = {}
        if kva is not None:
            basic["per_kva"] = _fmt(kva)
        if kw is not None:
            basic["per_kw"] = _fmt(kw)
        if basic:
            params["basic"] = basic

    def _funds(self, params):
        funds = []
        seen: dict[str, RowForm] = {}
        for f in self.funds.filled():
            code = f.values.get("code")
            if code and code in seen and "code" not in f.errors:
                f.row_error("code", _("代码与%(row)s重复") % {"row": seen[code].row_label})
            elif code:
                seen.setdefault(code, f)
            if not f.errors:
                funds.append({"code": code, "label": f.values["label"], "price": _fmt(f.values["price"])})
        if funds:
            params["funds"] = funds

    def all_errors(self) -> list[str]:
        """Every message, in page order, for the summary at the top (each names its row and field)."""
        out = [str(m) for m in self.version.non_field_errors()]
        for name in self.version.fields:
            out.extend(str(m) for m in self.version.errors.get(name, ()))
        tables = [(self.tiers, self.block.tiers), (self.funds, self.block.funds)]
        if self.version.cleaned_data.get("energy_mode") == "tou":
            out.extend(self.block.tou)
            tables.insert(0, (self.windows, self.block.windows))
        for formset, block in tables:
            out.extend(block)
            for f in formset.forms:
                for messages in f.errors.values():
                    out.extend(str(m) for m in messages)
        out.extend(self.block.other)
        for messages in self.sample.errors.values():
            out.extend(str(m) for m in messages)
        return out

    # -------------------------------------------------------------- the preview's sample

    def sample_kwargs(self) -> dict[str, Any] | None:
        """The preview's inputs for `services.tariff_version_preview`, or None with the sample's errors set."""
        if not self.sample.is_valid() or self.sample.errors:
            return None
        s = self.sample.values
        tou = "tou_prices" in (self.params or {})
        if tou:
            kwh = {p: s.get(f"kwh_{p}") for p in TOU_PERIODS}
            if all(v is None for v in kwh.values()):
                self.sample.add_error("kwh_peak", _("试算：请填写各时段电量"))
                return None
        else:
            if s.get("kwh_total") is None:
                self.sample.add_error("kwh_total", _("试算：请填写总电量"))
                return None
            kwh = {"total": s["kwh_total"]}
        return {
            "kwh": kwh,
            "ytd_kwh_before": s.get("ytd_kwh_before"),
            "capacity_kva": s.get("capacity_kva"),
            "max_demand_kw": s.get("max_demand_kw"),
            "power_factor": s.get("power_factor"),
        }

    def sample_errors_from(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            name = SAMPLE_FIELD_OF.get(key)
            if key == "kwh":
                name = "kwh_peak" if "tou_prices" in (self.params or {}) else "kwh_total"
            for m in messages:
                self.sample.add_error(name, _("试算：%(m)s") % {"m": m})

    # -------------------------------------------------------------- for the template

    @property
    def mode(self) -> str:
        return self.data.get("energy_mode") or "single"

    @property
    def pf_tables(self):
        return [pf_table_rows(t) for t in TARGETS[::-1]]


# ---------------------------------------------------------------- request data ⇄ parameters


def params_to_data(params: dict[str, Any] | None, *, valid_from: date | None = None) -> dict[str, str]:
    """A version's JSON as the editor's form data (a GET starts from the current version)."""
    params = params or {}
    data: dict[str, str] = {
        "valid_from": valid_from.isoformat() if valid_from else "",
        "valid_to": "",
        "close_current": "on",
        "energy_mode": "tou" if params.get("tou_prices") else "single",
        "energy_price": str(params.get("energy_price") or ""),
        "pf_target": str(params.get("pf_target") or ""),
    }
    for p, price in (params.get("tou_prices") or {}).items():
        data[f"tou_price_{p}"] = str(price)
    windows = []
    for p, value in (params.get("tou_windows") or {}).items():
        for text in value if isinstance(value, list) else [value]:
            start, _sep, end = str(text).partition("-")
            windows.append({"period": p, "start": start.strip(), "end": end.strip()})
    windows.sort(key=lambda w: parse_clock(w["start"]) or 0)
    tiers = []
    t = params.get("tiers") or {}
    if t:
        data["tier_basis"] = t.get("basis", "annual")
        bounds = ["0", *(str(x) for x in t.get("thresholds") or []), ""]
        surcharges = ["0", *(str(x) for x in t.get("surcharges") or [])]
        for i, s in enumerate(surcharges):
            tiers.append({"start": bounds[i], "end": bounds[i + 1], "surcharge": s})
    basic = params.get("basic") or {}
    data["basic_per_kva"] = str(basic.get("per_kva") or "")
    data["basic_per_kw"] = str(basic.get("per_kw") or "")
    funds = [
        {"code": str(f.get("code", "")), "label": str(f.get("label", "")), "price": str(f.get("price", ""))}
        for f in params.get("funds") or []
        if isinstance(f, dict)
    ]
    for prefix, rows in (("tiers", tiers), ("windows", windows), ("funds", funds)):
        data.update(_management(prefix, len(rows)))
        for i, row in enumerate(rows):
            data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def _management(prefix: str, total: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": str(MAX_ROWS),
    }


def _total(data, prefix: str) -> int:
    try:
        return max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), MAX_ROWS))
    except (TypeError, ValueError):
        return 0


def add_row(data, prefix: str) -> dict[str, str]:
    """The data with one blank row appended to a table (at most MAX_ROWS rows)."""
    out = {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"}
    total = _total(out, prefix)
    out.update(_management(prefix, min(total + 1, MAX_ROWS)))
    if prefix == "tiers" and total and total < MAX_ROWS:
        # A new tier starts where the last one ends.
        out[f"tiers-{total}-start"] = out.get(f"tiers-{total - 1}-end", "")
    return out


def remove_row(data, prefix: str, index: int) -> dict[str, str]:
    """The data without row `index` of a table; the rows after it move up one."""
    out = {k: v for k, v in data.items() if k != "csrfmiddlewaretoken" and not k.startswith(f"{prefix}-")}
    total = _total(data, prefix)
    kept = [i for i in range(total) if i != index]
    for new, old in enumerate(kept):
        head = f"{prefix}-{old}-"
        out.update({f"{prefix}-{new}-{k[len(head) :]}": v for k, v in data.items() if k.startswith(head)})
    out.update(_management(prefix, len(kept)))
    return out


def default_valid_from(today: date) -> date:
    """The effective date a new version starts with in the editor: the first day of the month after `today`."""
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def preview_period(valid_from: date, valid_to: date | None) -> tuple[date, date]:
    """The preview rates one billing month: from the effective date to the end of that month."""
    month_end = (valid_from.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return valid_from, min(month_end, valid_to) if valid_to else month_end


# ---------------------------------------------------------------- readable parameters (catalogue, audit)


def _pct(value: Decimal) -> str:
    """10.0 → "10", 0.50 → "0.5" (percent figures of the power-factor table)."""
    return format(value.normalize(), "f")


def pf_table_rows(target: Decimal) -> dict[str, Any]:
    """The statutory power-factor adjustment rows of one standard, as text rows (功率因数 → 调整)."""
    table = PF_TABLES[target]
    rows = []
    keys = sorted(table.reductions, reverse=True)
    for i, k in enumerate(keys):
        pct = table.reductions[k]
        rows.append(
            {
                "pf": _("%(pf)s 及以上") % {"pf": k} if i == 0 else str(k),
                "adjust": _("减收 %(p)s%%") % {"p": _pct(-pct)} if pct else _("不增不减"),
            }
        )
    upper = table.target
    for floor, per_step in table.increases:
        top = upper - Decimal("0.01")
        if floor is None:
            pf_text = _("%(pf)s 及以下") % {"pf": top}
            adjust = _("每降低 0.01 增收 %(s)s%%（%(pf)s 时增收 %(p)s%%）") % {
                "s": _pct(per_step),
                "pf": top,
                "p": _pct(adjustment_percent(target, top)),
            }
        else:
            pf_text = f"{top} – {floor}"
            adjust = _("每降低 0.01 增收 %(s)s%%（%(pf)s 时增收 %(p)s%%）") % {
                "s": _pct(per_step),
                "pf": floor,
                "p": _pct(adjustment_percent(target, floor)),
            }
        rows.append({"pf": pf_text, "adjust": adjust})
        upper = floor
    return {"target": str(target), "rows": rows}


def components(raw: Any) -> dict[str, Any]:
    """A version's parameters as readable rows for the catalogue page (no JSON). Unparseable parameters
    (an old row no longer valid) come back with `error` set and nothing else."""
    try:
        p: TariffParams = parse_params(raw)
    except RatingError as exc:
        return {"error": "；".join(f"{k}：{v}" for k, v in exc.errors.items())}
    out: dict[str, Any] = {"energy": [], "tiers": [], "basic": [], "pf": None, "funds": []}
    if p.is_tou:
        for period in TOU_PERIODS:
            if period in p.tou_prices:
                windows = "、".join(f"{clock(a)}-{clock(b)}" for a, b in p.tou_windows.get(period, ()))
                out["energy"].append(
                    {"label": tou_label(period), "price": p.tou_prices[period], "windows": windows}
                )
    else:
        out["energy"].append({"label": _("电度电价"), "price": p.energy_price, "windows": ""})
    if p.tiers is not None:
        bounds = [Decimal(0), *p.tiers.thresholds, None]
        for n in range(len(p.tiers.thresholds) + 1):
            surcharge = Decimal(0) if n == 0 else p.tiers.surcharges[n - 1]
            out["tiers"].append(
                {
                    "label": _("第%(n)s档") % {"n": n + 1},
                    "start": bounds[n],
                    "end": bounds[n + 1],
                    "surcharge": surcharge,
                    "price": (p.energy_price + surcharge) if p.energy_price is not None else None,
                }
            )
        out["tier_basis"] = _("年阶梯（每年 1 月重新累计）") if p.tiers.basis == "annual" else _("月阶梯")
    if p.basic_per_kva is not None:
        out["basic"].append({"label": _("按容量"), "price": p.basic_per_kva, "unit": _("元/千伏安·月")})
    if p.basic_per_kw is not None:
        out["basic"].append({"label": _("按最大需量"), "price": p.basic_per_kw, "unit": _("元/千瓦·月")})
    if p.pf_target is not None:
        out["pf"] = pf_table_rows(p.pf_target)
    out["funds"] = [{"code": f.code, "label": f.label, "price": f.price} for f in p.funds]
    return out
