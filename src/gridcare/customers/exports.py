"""The customer search export: the rows (masked unless the role may see PII and asked to), CSV or XLSX.

A small export streams from the request (customers.views.export); one above GRIDCARE["EXPORT_JOB_ROWS"] rows
is a job (`customers.export`) that writes its file under var/exports/, downloaded by its creator from the job."""

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from gridcare.core import jobfiles
from gridcare.core.spreadsheet import as_text_cell

from . import selectors
from .forms import SearchForm
from .models import Account

EXPORT_MAX_ROWS = 100_000
FORMATS = ("csv", "xlsx")
CHUNK = 2000
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def clean_criteria(data: dict[str, Any]) -> dict[str, str]:
    """The search form's criteria, with its messages; an empty search is refused (never "everything")."""
    form = SearchForm({k: data.get(k, "") for k in ("q", "customer_class", "segment")})
    if not form.is_valid():
        raise ValidationError({k: list(v) for k, v in form.errors.items()})
    if not selectors.search_has_criteria(**form.cleaned_data):
        raise ValidationError(
            {"q": [_("查询条件为空：请输入户号、姓名、手机号、地址或证件号，或选择用电类别、客户分群。")]}
        )
    return {k: form.cleaned_data.get(k) or "" for k in ("q", "customer_class", "segment")}


def search_queryset(user, criteria: dict) -> QuerySet:
    """The search result the user may see, with each customer's accounts and their addresses."""
    return selectors.customer_search(
        user=user,
        q=criteria.get("q", ""),
        customer_class=criteria.get("customer_class", ""),
        segment=criteria.get("segment", ""),
    ).prefetch_related(
        Prefetch("accounts", queryset=Account.objects.select_related("premise").order_by("account_number"))
    )


def export_rows(customers: Iterable, reveal: bool) -> Iterator[list]:
    """The header, then one row per customer: masked unless `reveal` (the caller checked the permission)."""
    yield [
        _("客户编号"),
        _("客户名称"),
        _("客户类型"),
        _("用电类别"),
        _("客户分群"),
        _("证件号码"),
        _("联系电话"),
        _("供电单位"),
        _("户号"),
        _("用电地址"),
    ]
    for c in customers:
        m = selectors.masked_customer(c, reveal=reveal)
        accounts = list(c.accounts.all())
        yield [
            c.pk,
            m["name"],
            c.get_kind_display(),
            c.get_customer_class_display(),
            c.get_segment_display(),
            m["id_number"],
            m["phone"],
            c.unit.name,
            " ".join(a.account_number for a in accounts),
            " | ".join(a.premise.address for a in accounts),
        ]


def write_file(
    qs: QuerySet, *, fmt: str, reveal: bool, progress: Callable[[int], None] | None = None
) -> tuple[str, int]:
    """Write the export to a new file under var/exports/ (moved into place only when complete): (name, rows)."""
    name, tmp, target = jobfiles.open_new(jobfiles.EXPORTS, fmt)
    n = 0

    def cells() -> Iterator[list]:
        nonlocal n
        for i, row in enumerate(export_rows(qs.iterator(chunk_size=CHUNK), reveal)):
            if i and progress is not None and i % CHUNK == 0:
                progress(i)
            n = i
            yield [as_text_cell(v) for v in row]

    try:
        if fmt == "csv":
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                csv.writer(fh).writerows(cells())
        else:
            from openpyxl import Workbook

            wb = Workbook(write_only=True)
            ws = wb.create_sheet(_("客户"))
            for row in cells():
                ws.append(row)
            wb.save(tmp)
        jobfiles.commit(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return name, n
