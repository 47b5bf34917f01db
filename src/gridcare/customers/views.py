"""Staff console pages for the customer registry. Thin: forms parse, selectors read, services write."""

import csv
import io

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from gridcare.core import jobfiles
from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, get_or_404
from gridcare.core.spreadsheet import as_text_cell
from gridcare.core.views import form_errors_from, staff_required
from gridcare.jobs import services as job_services
from gridcare.jobs.choices import JobState
from gridcare.jobs.models import Job
from gridcare.jobs.services import BrokerUnavailable
from gridcare.org.selectors import customer_manager_choices

from . import exports, selectors, services
from .choices import CustomerClass, Segment
from .forms import (
    AccountCloseForm,
    AccountOpenForm,
    AccountTransferForm,
    CustomerForm,
    MeterEditForm,
    MeterInstallForm,
    SearchForm,
)
from .jobs import export_job_rows
from .models import Account

PAGE_SIZE = 25


def local_today():
    """Today in Asia/Shanghai (the customer page's arrears and late fees are as of this day); tests pin it."""
    return timezone.localdate()


def _search_criteria(form) -> tuple[dict | None, str, str]:
    """(criteria, error, hint): the form's cleaned criteria, or why nothing is searched — an error for bad
    input (e.g. a query over 100 characters, 400), a hint for an empty search (nothing to search by)."""
    if not form.is_bound:
        return None, "", _("请输入户号、姓名、手机号、地址或证件号，或选择用电类别、客户分群，然后查询。")
    if not form.is_valid():
        return None, " ".join(m for msgs in form.errors.values() for m in msgs), ""
    if not selectors.search_has_criteria(**form.cleaned_data):
        return None, "", _("查询条件为空：请输入户号、姓名、手机号、地址或证件号，或选择用电类别、客户分群。")
    return form.cleaned_data, "", ""


def _search_qs(request, criteria: dict):
    return selectors.customer_search(
        user=request.user,
        q=criteria.get("q", ""),
        customer_class=criteria.get("customer_class", ""),
        segment=criteria.get("segment", ""),
    )


@staff_required(Perm.CUSTOMER_VIEW)
def search(request):
    form = SearchForm(request.GET or None)
    criteria, error, hint = _search_criteria(form)
    page = None
    rows = []
    if criteria is not None:
        qs = _search_qs(request, criteria).prefetch_related(
            Prefetch(
                "accounts", queryset=Account.objects.select_related("premise").order_by("account_number")
            )
        )
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        rows = [{"c": c, "m": selectors.masked_customer(c), "accounts": list(c.accounts.all())} for c in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "customers/search.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "error": error,
            "hint": hint,
            "querystring": query.urlencode(),
            "can_export": has_perm(request.user, Perm.CUSTOMER_EXPORT),
        },
        status=400 if error else 200,
    )


class _Echo:
    def write(self, value):
        return value


def job_page(job) -> str:
    """The job's page (the job engine's `jobs:detail`; its plain path until that page is installed)."""
    try:
        return reverse("jobs:detail", args=[job.pk])
    except NoReverseMatch:
        return f"/jobs/{job.pk}/"


@staff_required(Perm.CUSTOMER_EXPORT)
def export(request):
    """CSV (UTF-8 with BOM, opens in Excel) or XLSX of a search result; masked unless the role may see PII.

    Up to GRIDCARE["EXPORT_JOB_ROWS"] rows stream from here; more become a job writing the file under
    var/exports/, and the browser goes to the job's page, where its creator downloads it when done."""
    form = SearchForm(request.GET or None)
    fmt = request.GET.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise Http404
    criteria, error, hint = _search_criteria(form)
    if criteria is None:  # the same refusal as the search page: never "everything" by accident
        return HttpResponse(error or hint, status=400, content_type="text/plain; charset=utf-8")
    reveal = request.GET.get("reveal") == "1" and has_perm(request.user, Perm.CUSTOMER_VIEW_PII)
    qs = exports.search_queryset(request.user, criteria)[: exports.EXPORT_MAX_ROWS]
    if qs.count() > export_job_rows():
        return _export_as_job(request, criteria, fmt, reveal, qs)
    _export_record(request, fmt, reveal, qs)
    stamp = timezone.localtime().strftime("%Y%m%d%H%M")
    if fmt == "csv":
        writer = csv.writer(_Echo())

        def stream():
            yield "\ufeff"
            for row in exports.export_rows(qs.iterator(chunk_size=exports.CHUNK), reveal):
                yield writer.writerow([as_text_cell(v) for v in row])

        resp = StreamingHttpResponse(stream(), content_type=exports.CONTENT_TYPES["csv"])
        resp["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
        return resp
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("客户"))
    for row in exports.export_rows(qs.iterator(chunk_size=exports.CHUNK), reveal):
        ws.append([as_text_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    resp = HttpResponse(buf.getvalue(), content_type=exports.CONTENT_TYPES["xlsx"])
    resp["Content-Disposition"] = f'attachment; filename="customers-{stamp}.xlsx"'
    return resp


def _export_record(request, fmt: str, reveal: bool, qs) -> None:
    services.customer_export_record(
        actor=Actor.console(request),
        query=request.GET.dict(),
        fmt=fmt,
        unmasked=reveal,
        customer_ids=qs.values_list("pk", flat=True) if reveal else (),
    )


def _export_as_job(request, criteria: dict, fmt: str, reveal: bool, qs):
    try:
        job = job_services.start(
            "customers.export",
            {"criteria": criteria, "format": fmt, "reveal": reveal},
            actor=Actor.console(request),
        )
    except BrokerUnavailable:
        return HttpResponse(
            _("后台任务服务暂时不可用，未开始导出，请稍后再试。"),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
    except PermissionDenied:
        raise Http404 from None
    _export_record(request, fmt, reveal, qs)
    return redirect(job_page(job))


@staff_required(Perm.CUSTOMER_EXPORT)
def export_download(request, job_id: int):
    """The file of a finished export job: its creator only (anyone else: 404), audited, until it expires (410)."""
    job = Job.objects.filter(
        pk=job_id, kind="customers.export", created_by=request.user, state=JobState.SUCCEEDED
    ).first()
    if job is None or not isinstance(job.result, dict):
        raise Http404
    name, fmt = job.result.get("file", ""), job.result.get("format", "")
    expires = job.finished_at + jobfiles.keep(jobfiles.EXPORTS)
    try:
        path = jobfiles.path(jobfiles.EXPORTS, name)
    except jobfiles.BadFileName:
        raise Http404 from None
    if timezone.now() >= expires or not path.is_file():
        return HttpResponse(
            _("导出文件已过期删除，请重新导出。"), status=410, content_type="text/plain; charset=utf-8"
        )
    services.customer_export_download_record(
        actor=Actor.console(request), job_id=job.pk, rows=job.result.get("rows")
    )
    stamp = timezone.localtime(job.finished_at).strftime("%Y%m%d%H%M")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"customers-{stamp}.{fmt}",
        content_type=exports.CONTENT_TYPES.get(fmt, "application/octet-stream"),
    )


@staff_required(Perm.CUSTOMER_VIEW)
def customer_detail(request, pk):
    customer = selectors.customer_get(user=request.user, pk=pk)
    reveal = False
    if request.GET.get("reveal") == "1":
        if not has_perm(request.user, Perm.CUSTOMER_VIEW_PII):
            raise Http404
        services.pii_reveal(actor=Actor.console(request), customer=customer)
        reveal = True
    ctx = selectors.customer_detail(user=request.user, customer=customer, today=local_today())
    ctx.update(
        {
            "m": selectors.masked_customer(customer, reveal=reveal),
            "reveal": reveal,
            "timeline": selectors.customer_timeline(user=request.user, customer=customer, reveal=reveal),
            "can_edit": has_perm(request.user, Perm.CUSTOMER_EDIT),
            "can_meter": has_perm(request.user, Perm.METER_EDIT),
            "can_pii": has_perm(request.user, Perm.CUSTOMER_VIEW_PII),
            "can_audit": has_perm(request.user, Perm.AUDIT_VIEW),
            **_credit_section(request.user, customer),
        }
    )
    return render(request, "customers/detail.html", ctx)


def _credit_section(user, customer) -> dict:
    """The 信用等级 section (issue 17): for credit.view holders of the customer's unit; three queries."""
    from gridcare.core.scoping import may_act_on_unit
    from gridcare.credit.standing import credit_view

    if not may_act_on_unit(user, customer.unit_id, Perm.CREDIT_VIEW):
        return {"credit": None}
    view = credit_view(customer.pk, history=12)
    return {"credit": view, "can_credit_record": may_act_on_unit(user, customer.unit_id, Perm.CREDIT_RECORD)}


def _form_flow(request, form, *, title, write, done, customer=None):
    """GET shows the form; a valid POST calls `write(cleaned_data)` (a service) and redirects via `done(result)`.

    Service validation errors land on the form (400); a refusal by the service is a 404 like a missing object.
    """
    if request.method == "POST" and form.is_valid():
        try:
            result = write(form.cleaned_data)
        except ValidationError as e:
            form_errors_from(form, e)
        except services.PermissionDenied:
            raise Http404 from None
        else:
            message, target = done(result)
            messages.success(request, message)
            return redirect(target)
    ctx = {"form": form, "title": title, "customer": customer}
    return render(request, "customers/form.html", ctx, status=400 if form.is_bound else 200)


def _to_customer(customer_id) -> str:
    return reverse("console:customer_detail", args=[customer_id])


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def customer_create(request):
    units = selectors.unit_choices(user=request.user)
    managers = customer_manager_choices(user=request.user)
    form = CustomerForm(
        request.POST or None, units=units, managers=managers, initial={"unit_id": request.user.unit_id}
    )
    return _form_flow(
        request,
        form,
        title=_("新建客户"),
        write=lambda data: services.customer_create(actor=Actor.console(request), data=data),
        done=lambda c: (_("客户已创建"), _to_customer(c.pk)),
    )


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def customer_edit(request, pk):
    customer = selectors.customer_get(user=request.user, pk=pk)
    units = selectors.unit_choices(user=request.user)
    managers = customer_manager_choices(user=request.user)
    initial = {f: getattr(customer, f) for f in CustomerForm.base_fields}
    if request.method == "GET":  # the form holds the file whole (phone, ID number): an audited view
        services.pii_reveal(actor=Actor.console(request), customer=customer)
    form = CustomerForm(request.POST or None, units=units, managers=managers, initial=initial)
    return _form_flow(
        request,
        form,
        title=_("编辑客户资料"),
        customer=customer,
        write=lambda data: services.customer_update(
            actor=Actor.console(request), customer=customer, data=data
        ),
        done=lambda c: (_("客户资料已保存"), _to_customer(c.pk)),
    )


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def account_open(request, pk):
    customer = selectors.customer_get(user=request.user, pk=pk)
    areas = selectors.areas_visible(user=request.user).order_by("code")[:500]
    form = AccountOpenForm(request.POST or None, areas=areas)
    return _form_flow(
        request,
        form,
        title=_("立户（新开户号）"),
        customer=customer,
        write=lambda data: services.account_open(actor=Actor.console(request), customer=customer, **data),
        done=lambda a: (_("已立户：户号 %(n)s") % {"n": a.account_number}, _to_customer(customer.pk)),
    )


def _account_for_edit(request, account_number):
    return get_or_404(selectors.accounts_visible(user=request.user), account_number=account_number)


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def account_close(request, account_number):
    account = _account_for_edit(request, account_number)
    return _form_flow(
        request,
        AccountCloseForm(request.POST or None),
        customer=account.customer,
        title=_("销户 %(n)s") % {"n": account.account_number},
        write=lambda data: services.account_close(
            actor=Actor.console(request), account=account, closed_on=data["closed_on"]
        ),
        done=lambda a: (_("户号 %(n)s 已销户") % {"n": a.account_number}, _to_customer(a.customer_id)),
    )


@staff_required(Perm.CUSTOMER_EDIT)
@require_http_methods(["GET", "POST"])
def account_transfer(request, account_number):
    account = _account_for_edit(request, account_number)

    def write(data):
        try:
            new_customer = selectors.customer_get(user=request.user, pk=data["new_customer_id"])
        except Http404:
            raise ValidationError({"new_customer_id": [_("客户不存在")]}) from None
        return services.account_transfer(
            actor=Actor.console(request),
            account=account,
            new_customer=new_customer,
            effective_on=data["effective_on"],
        )

    return _form_flow(
        request,
        AccountTransferForm(request.POST or None),
        customer=account.customer,
        title=_("过户 %(n)s") % {"n": account.account_number},
        write=write,
        done=lambda a: (_("户号 %(n)s 已过户") % {"n": a.account_number}, _to_customer(a.customer_id)),
    )


@staff_required(Perm.METER_EDIT)
@require_http_methods(["GET", "POST"])
def meter_install(request, pk):
    sp = get_or_404(selectors.service_points_visible(user=request.user), pk=pk)
    return _form_flow(
        request,
        MeterInstallForm(request.POST or None),
        title=_("装表/换表"),
        customer=sp.account.customer,
        write=lambda data: services.meter_install(actor=Actor.console(request), service_point=sp, data=data),
        done=lambda m: (_("电能表已安装"), _to_customer(sp.account.customer_id)),
    )


@staff_required(Perm.METER_EDIT)
@require_http_methods(["GET", "POST"])
def meter_edit(request, pk):
    meter = get_or_404(selectors.meters_visible(user=request.user), pk=pk)
    initial = {"digits": meter.digits, "multiplier": meter.multiplier, "has_tou": meter.has_tou}
    customer = meter.service_point.account.customer if meter.service_point_id else None
    return _form_flow(
        request,
        MeterEditForm(request.POST or None, initial=initial),
        customer=customer,
        title=_("编辑电能表 %(n)s") % {"n": meter.asset_number},
        write=lambda data: services.meter_update(actor=Actor.console(request), meter=meter, data=data),
        done=lambda m: (
            _("电能表参数已保存"),
            _to_customer(customer.pk) if customer else reverse("console:search"),
        ),
    )


@staff_required(Perm.STATS_VIEW)
def stats(request):
    dist = selectors.customer_distribution(user=request.user)
    class_labels = dict(CustomerClass.choices)
    segment_labels = dict(Segment.choices)
    from .choices import AreaType

    area_labels = dict(AreaType.choices)
    chart = {
        "by_class": [
            {"name": str(class_labels.get(r["customer_class"], r["customer_class"])), "value": r["n"]}
            for r in dist["by_class"]
        ],
        "by_segment": [
            {"name": str(segment_labels.get(r["segment"], r["segment"])), "value": r["n"]}
            for r in dist["by_segment"]
        ],
        "by_unit": [{"name": r["unit__name"], "value": r["n"]} for r in dist["by_unit"]],
        "by_area_type": [
            {"name": str(area_labels.get(r["premise__transformer_area__area_type"], "?")), "value": r["n"]}
            for r in dist["by_area_type"]
        ],
    }
    total = sum(r["value"] for r in chart["by_class"])
    return render(request, "customers/stats.html", {"chart": chart, "total": total})
