"""Console login with lockout, and logout."""

from django.contrib.auth import login, logout
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip

from .services import LoginLocked, login_attempt


def login_view(request, *, portal: bool = False):
    template = "portal/login.html" if portal else "org/login.html"
    error = None
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        try:
            user = login_attempt(
                username=username,
                password=password,
                ip=client_ip(request),
                channel=Channel.PORTAL if portal else Channel.CONSOLE,
                staff=not portal,
            )
        except LoginLocked as e:
            error = str(e)
        else:
            if user is None:
                error = "用户名或密码错误"
            else:
                login(request, user)
                default = reverse("portal:accounts") if portal else reverse("console:home")
                nxt = request.POST.get("next") or request.GET.get("next") or default
                if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
                    nxt = default
                return HttpResponseRedirect(nxt)
    return render(
        request,
        template,
        {"error": error, "next": request.GET.get("next", "")},
        status=200 if not error else 400,
    )


@require_POST
def logout_view(request):
    portal = request.user.is_authenticated and request.user.is_customer
    logout(request)
    return HttpResponseRedirect(reverse("portal:login") if portal else reverse("console:login"))
