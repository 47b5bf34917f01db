"""The electronic bill 电子账单: what one bill shows (HTML and PDF), read in a fixed number of queries.

Read-only, selector style. Who may open a bill is decided here too, in one place:
- console: roles with `customer.view` within the bill's unit (the same rule as `bills_of_account`);
  作废并重开 is offered to roles with `billing.run` within it (`can_cancel_rebill`);
- portal: issued bills of accounts bound to the logged-in customer.
Missing and forbidden answer the same 404.

`bill_document` costs five queries whatever the number of lines, meters, reads or months: lines (none when
prefetched), tariff version, the period's reads, each meter's read before the period, the 13 months of
history; a sixth only for a tariff code without a version valid at the period's end.
"""

from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404, may_act_on_unit, restrict
from gridcare.metering.choices import ReadSource, ReadStatus
from gridcare.metering.models import MeterRead

from .choices import BillStatus
from .models import Bill, BillingRun, Tariff, TariffVersion
from .rating import TOU_PERIODS, RatingError, parse_params, tier_quantities, tou_label
from .runs import period_bounds

HISTORY_MONTHS = 13
REGISTER_LABELS = {
    "total": _lazy("总"),
    "sharp": _lazy("尖"),
    "peak": _lazy("峰"),
    "flat": _lazy("平"),
    "valley": _lazy("谷"),
}
TOU_KWH_FIELDS = {p: f"kwh_{p}" for p in TOU_PERIODS}
HOW_TO_PAY = (
    (
        _lazy("网上国网 App / 网上营业厅"),
        _lazy("登录网上国网 App 或本网上营业厅，绑定户号后在线缴费，即时到账。"),
    ),
    (_lazy("95598 供电服务热线"), _lazy("拨打 95598 查询电费、欠费和缴费方式。")),
    (_lazy("供电营业厅柜台"), _lazy("凭户号到就近的供电营业厅柜台缴费，支持现金和银行卡。")),
    (_lazy("银行代扣"), _lazy("与开户银行签订代扣协议后，电费发行时自动从银行账户扣缴。")),
)


# ---------------------------------------------------------------- who may open a bill


def _bills() -> QuerySet[Bill]:
    return Bill.objects.select_related("account__customer", "account__premise", "unit")


def _pk(pk) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404 from None


def bills_visible(*, user) -> QuerySet[Bill]:
    """Bills staff may see: `customer.view` within their units (counter clerks answer bill questions)."""
    return restrict(_bills(), user, Perm.CUSTOMER_VIEW)


def bill_get(*, user, pk) -> Bill:
    """One bill for the console; 404 for missing and for out of scope alike."""
    return get_or_404(bills_visible(user=user), pk=_pk(pk))


def portal_bill_get(*, user, pk) -> Bill:
    """One issued bill of an account bound to the portal user; 404 for anything else (drafts included)."""
    from gridcare.portal.selectors import is_portal_user

    if not is_portal_user(user):
        raise Http404
    return get_or_404(_bills().filter(status=BillStatus.ISSUED, account__bindings__user=user), pk=_pk(pk))


def can_cancel_rebill(*, user, bill: Bill) -> bool:
    """Whether the console offers 作废并重开 on this bill: `billing.run` within its unit, bill not cancelled.
    The service checks the same again; this only decides whether the form is shown."""
    return bill.status != BillStatus.CANCELLED and may_act_on_unit(user, bill.unit_id, Perm.BILLING_RUN)


def bill_corrections(*, user, bill: Bill) -> dict[str, Any]:
    """The bill this one corrects and the bills correcting it, among those the user may see (one query,
    none for a bill with neither). Console only: the portal never shows cancelled bills."""
    if bill.corrects_id is None and bill.status != BillStatus.CANCELLED:
        return {"corrects": None, "corrected_by": []}
    rows = list(
        restrict(Bill.objects.all(), user, Perm.CUSTOMER_VIEW)
        .filter(Q(pk=bill.corrects_id) | Q(corrects_id=bill.pk))
        .only("period_start", "amount", "status", "corrects_id", "unit_id")
        .order_by("id")
    )
    return {
        "corrects": next((b for b in rows if b.pk == bill.corrects_id), None),
        "corrected_by": [b for b in rows if b.corrects_id == bill.pk],
    }


def run_bills(*, user, run: BillingRun, limit: int = 200) -> list[Bill]:
    """The live bills a run made, by 户号, for the run page's list (one query)."""
    return list(
        bills_visible(user=user)
        .filter(run=run)
        .exclude(status=BillStatus.CANCELLED)
        .order_by("account__account_number", "id")[:limit]
    )


# ---------------------------------------------------------------- the document


def _plain(value: Decimal) -> Decimal:
    """200.0000 → 200, 0.538000 → 0.538: quantities and prices as a person writes them."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _is_estimated(read: MeterRead) -> bool:
    return read.source == ReadSource.ESTIMATED or read.status == ReadStatus.ESTIMATED


def _read_side(read: MeterRead | None) -> dict[str, Any] | None:
    if read is None:
        return None
    return {
        "read_at": read.read_at,
        "source": read.get_source_display(),
        "estimated": _is_estimated(read),
    }


def _readings(bill: Bill) -> list[dict[str, Any]]:
    """The period's reads per meter with the register values before and after (two queries)."""
    lo, hi = period_bounds(bill.period_start, bill.period_end)
    in_period = list(
        MeterRead.objects.filter(account_id=bill.account_id, read_at__gte=lo, read_at__lt=hi)
        .select_related("meter")
        .order_by("meter__asset_number", "meter_id", "read_at")
    )
    meter_ids = {r.meter_id for r in in_period}
    previous: dict[int, MeterRead] = {}
    if meter_ids:
        last_before = (
            MeterRead.objects.filter(meter_id=OuterRef("meter_id"), read_at__lt=lo)
            .order_by("-read_at")
            .values("pk")[:1]
        )
        previous = {
            r.meter_id: r
            for r in MeterRead.objects.filter(meter_id__in=meter_ids, read_at__lt=lo).filter(
                pk=Subquery(last_before)
            )
        }
    rows = []
    for read in in_period:
        # Consumption is always against the meter's previous read, whatever that read's status.
        prev = previous.get(read.meter_id)
        previous[read.meter_id] = read
        # The bill used only reads with a consumption that are not waiting in the exceptions queue.
        if read.consumption is None or read.status == ReadStatus.FLAGGED:
            continue
        registers = [
            {
                "name": name,
                "label": REGISTER_LABELS[name],
                "previous": getattr(prev, name) if prev else None,
                "current": getattr(read, name),
            }
            for name in REGISTER_LABELS
            if name == "total"
            or getattr(read, name) is not None
            or (prev and getattr(prev, name) is not None)
        ]
        rows.append(
            {
                "meter": read.meter.asset_number,
                "multiplier": read.meter.multiplier,
                "previous": _read_side(prev),
                "current": _read_side(read),
                "registers": registers,
                "kwh": read.consumption,
                "estimated": _is_estimated(read),
            }
        )
    return rows


def _tou(obj) -> list[dict[str, Any]] | None:
    """[{period, label, kwh}] of a bill's TOU split; None for a bill without one."""
    values = {p: getattr(obj, f) for p, f in TOU_KWH_FIELDS.items()}
    if all(v is None for v in values.values()):
        return None
    return [{"period": p, "label": tou_label(p), "kwh": v} for p, v in values.items() if v is not None]


def _tariff(bill: Bill) -> tuple[str, Any]:
    """(tariff name, parsed parameters or None) of the version valid on the bill's last day."""
    version = (
        TariffVersion.objects.select_related("tariff")
        .filter(tariff__code=bill.tariff_code, valid_from__lte=bill.period_end)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=bill.period_end))
        .order_by("-valid_from")
        .first()
    )
    if version is None:
        tariff = Tariff.objects.filter(code=bill.tariff_code).only("name").first()
        return (tariff.name if tariff else ""), None
    try:
        params = parse_params(version.parameters)
    except RatingError:
        params = None
    return version.tariff.name, params


def _tier_label(n: int) -> str:
    return _("第%(n)s档") % {"n": n}


def _tiers(bill: Bill, params) -> dict[str, Any] | None:
    """Year-to-date tier usage: before, this bill, after, the bands and the tier the account is in."""
    tiers = params.tiers if params is not None else None
    if tiers is None:
        return None
    annual = tiers.basis == "annual"
    before = bill.ytd_kwh_before if annual else Decimal(0)
    after = before + bill.kwh_total
    this_bill = tier_quantities(before, bill.kwh_total, tiers.thresholds)
    # Each tier's upper bound belongs to it: 2760 kWh a year is still tier 1.
    current = 1 + sum(1 for t in tiers.thresholds if after > t)
    bounds = [Decimal(0), *tiers.thresholds, None]
    bands = [
        {
            "tier": n,
            "label": _tier_label(n),
            "start": bounds[n - 1],
            "end": bounds[n],
            "surcharge": Decimal(0) if n == 1 else tiers.surcharges[n - 2],
            "kwh": this_bill[n - 1],
            "current": n == current,
        }
        for n in range(1, len(bounds))
    ]
    end = bounds[current]
    return {
        "basis": tiers.basis,
        "basis_label": _("年阶梯（每年 1 月 1 日重新累计）") if annual else _("月阶梯"),
        "before": before,
        "kwh": bill.kwh_total,
        "after": after,
        "tier": current,
        "tier_label": _tier_label(current),
        "remaining": (end - after) if end is not None else None,
        "bands": bands,
    }


def _history(bill: Bill) -> list[dict[str, Any]]:
    """The last 13 months up to this bill, oldest first: issued bills and this bill itself (one query)."""
    rows = list(
        Bill.objects.filter(account_id=bill.account_id, period_start__lte=bill.period_start)
        .filter(Q(status=BillStatus.ISSUED) | Q(pk=bill.pk))
        .only("period_start", "kwh_total", "amount", "estimated", *TOU_KWH_FIELDS.values())
        .order_by("-period_start", "-id")[:HISTORY_MONTHS]
    )
    rows.reverse()
    top = max((r.kwh_total for r in rows), default=Decimal(0))
    out = []
    for r in rows:
        tou = _tou(r)
        parts = (
            [{"key": t["period"], "label": t["label"], "kwh": t["kwh"]} for t in tou]
            if tou is not None
            else [{"key": "total", "label": _("总电量"), "kwh": r.kwh_total}]
        )
        for part in parts:  # bar widths for the print version's HTML chart
            part["percent"] = round(float(part["kwh"] / top * 100), 1) if top > 0 else 0
        out.append(
            {
                "period": f"{r.period_start:%Y-%m}",
                "period_start": r.period_start,
                "kwh_total": r.kwh_total,
                "amount": r.amount,
                "estimated": r.estimated,
                "tou": {p: getattr(r, f) for p, f in TOU_KWH_FIELDS.items()} if tou is not None else None,
                "parts": parts,
                "current": r.pk == bill.pk,
            }
        )
    return out


def usage_chart(history: list[dict[str, Any]]) -> dict[str, Any]:
    """ECharts data: stacked 尖峰/高峰/平段/低谷 for TOU months, one 总电量 series for the others."""

    def num(v):
        return None if v is None else float(v)

    series = [
        {
            "key": p,
            "name": tou_label(p),
            "data": [num(h["tou"].get(p)) if h["tou"] else None for h in history],
        }
        for p in TOU_PERIODS
    ]
    series.append(
        {
            "key": "total",
            "name": _("总电量"),
            "data": [None if h["tou"] else num(h["kwh_total"]) for h in history],
        }
    )
    return {
        "has_tou": any(h["tou"] for h in history),
        "months": [h["period"] for h in history],
        "series": [s for s in series if any(v is not None for v in s["data"])],
        "unit": "kWh",
    }


def bill_document(bill: Bill, *, holder: bool = False) -> dict[str, Any]:
    """Everything the electronic bill shows. `holder`: the account holder reads it (portal), so the name
    is shown in full; staff see it masked as everywhere in the console (a company's name is not masked)."""
    from gridcare.customers.selectors import masked_customer

    account = bill.account
    customer = account.customer
    tariff_name, params = _tariff(bill)
    history = _history(bill)
    return {
        "pk": bill.pk,
        "account_number": account.account_number,
        "customer_name": customer.name if holder else masked_customer(customer)["name"],
        "address": account.premise.address,
        "supply_unit": bill.unit.name,
        "period": f"{bill.period_start:%Y-%m}",
        "period_start": bill.period_start,
        "period_end": bill.period_end,
        "tariff_code": bill.tariff_code,
        "tariff_name": tariff_name,
        "readings": _readings(bill),
        "kwh_total": bill.kwh_total,
        "tou": _tou(bill),
        # Two-part and power-factor tariffs only; None elsewhere.
        "kvarh": bill.kvarh,
        "max_demand_kw": bill.max_demand_kw,
        "power_factor": bill.power_factor,
        "tiers": _tiers(bill, params),
        "lines": [
            {
                "seq": ln.seq,
                "code": ln.code,
                "label": ln.label,
                "quantity": _plain(ln.quantity),
                "unit_price": _plain(ln.unit_price),
                "amount": ln.amount,
                "part_start": ln.part_start,
                "part_end": ln.part_end,
                "note": ln.note,
                # A line of part of the month (tariff change, 1 January) says which part.
                "part": ""
                if (ln.part_start, ln.part_end) == (bill.period_start, bill.period_end)
                else f"{ln.part_start:%Y-%m-%d}–{ln.part_end:%Y-%m-%d}",
            }
            for ln in sorted(bill.lines.all(), key=lambda ln: ln.seq)
        ],
        "amount": bill.amount,
        "due_date": bill.due_date,
        "issued_at": bill.issued_at,
        "status": bill.status,
        "status_label": bill.get_status_display(),
        "cancelled_at": bill.cancelled_at,
        "cancel_reason": bill.cancel_reason,
        "corrects_id": bill.corrects_id,
        "run_id": bill.run_id,
        "estimated": bill.estimated,
        "estimated_notice": _("本账单含估算电量") if bill.estimated else "",
        "how_to_pay": [{"title": t, "text": x} for t, x in HOW_TO_PAY],
        "history": history,
        "chart": usage_chart(history),
    }


def pdf_filename(doc: dict[str, Any]) -> str:
    return f"ebill-{doc['account_number']}-{doc['period']}.pdf"


def refusing_url_fetcher():
    """A fetcher that fetches nothing: the print template is self-contained, and a bill must never
    make the server open a URL (or a local file) on anyone's behalf."""
    import weasyprint

    if hasattr(weasyprint, "URLFetcher"):  # WeasyPrint ≥ 68
        return weasyprint.URLFetcher(allowed_protocols=())

    def refuse(url, *args, **kwargs):
        raise ValueError(f"external resources are not fetched: {url}")

    return refuse


def ebill_pdf(bill: Bill, *, holder: bool = False, doc: dict[str, Any] | None = None) -> bytes:
    """The bill as an A4 PDF (WeasyPrint; CJK text in Noto Sans CJK SC)."""
    from weasyprint import HTML

    html = render_to_string("billing/ebill_print.html", {"doc": doc or bill_document(bill, holder=holder)})
    return HTML(string=html, base_url=None, url_fetcher=refusing_url_fetcher()).write_pdf()
