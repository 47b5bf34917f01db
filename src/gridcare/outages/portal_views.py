"""Outage pages for customers and the public.

- `/portal/outages/` (logged-in customers): the current and planned outages of every bound 户号, and a lookup by
  户号 among them (`?account=`). The lookup is limited to bound accounts: an unbound 户号 tells nothing about where
  somebody lives (网上国网 also asks for login before 停电查询 by 户号).
- `/outages/public/?area=&date=` (anyone, rate-limited per client): the published and ongoing outages of a day by
  town, area or feeder name — no personal data, only places and times, as a bureau's 停电公告 does."""

from datetime import date, timedelta

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gridcare.core import ratelimit
from gridcare.core.views import customer_required
from gridcare.portal import selectors as portal_selectors

from . import selectors

PUBLIC_LIMIT = (60, 60)  # requests per client per minute


@customer_required
@require_GET
def portal_outages(request):
    accounts = list(portal_selectors.portal_accounts(user=request.user).order_by("account_number"))
    wanted = (request.GET.get("account") or "").strip()
    error = ""
    if wanted:
        chosen = [a for a in accounts if a.account_number == wanted]
        if not chosen:
            error = _("户号 %(n)s 未绑定到您的账号，请先绑定后查询。") % {"n": wanted[:20]}
        accounts = chosen
    now = timezone.now()
    cards = [{"account": a, "outages": selectors.outages_for_account(a, now=now)} for a in accounts]
    return render(
        request,
        "outages/portal.html",
        {"cards": cards, "wanted": wanted, "error": error},
        status=404 if error else 200,
    )


@require_GET
def public_outages(request):
    today = timezone.localdate()
    area = (request.GET.get("area") or "").strip()[:50]
    raw_day = (request.GET.get("date") or "").strip()
    error = ""
    day = today
    if raw_day:
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            error = _("日期格式应为 YYYY-MM-DD")
        else:
            if not today - timedelta(days=30) <= day <= today + timedelta(days=60):
                error = _("只能查询前 30 天到后 60 天的停电信息")
    if not ratelimit.hit("outages_public", ratelimit.client_key(request), *PUBLIC_LIMIT):
        return render(
            request,
            "outages/public.html",
            {"error": _("查询过于频繁，请稍后再试"), "area": area, "day": raw_day},
            status=429,
        )
    rows = [] if error else selectors.public_outages(area_query=area, day=day)
    return render(
        request,
        "outages/public.html",
        {"rows": rows, "area": area, "day": raw_day or day.isoformat(), "error": error},
        status=400 if error else 200,
    )
