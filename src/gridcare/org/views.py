"""Console and portal login (through the lockout backend), logout, the Django admin's change-password page (its
old-password check through the lockout too), and unlocking locked accounts (admin)."""

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridcare.core.audit import Actor
from gridcare.core.permissions import Perm
from gridcare.core.views import staff_required

from . import selectors, services
from .services import login_failed_message


def login_view(request, *, portal: bool = False):
    template = "portal/login.html" if portal else "org/login.html"
    error = None
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        user = authenticate(request, username=username, password=password, portal=portal)
        if user is None:
            error = login_failed_message()
        else:
            login(request, user)  # the session's lifetime is set on login (gridcare.org.sessions)
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


class _LockoutPasswordChangeForm(AdminPasswordChangeForm):
    """Django's form checks the old password with `user.check_password`, beside the lockout; this one asks
    `authenticate()` like a login, so a stolen session cannot guess the password without locking the account."""

    request = None

    def clean_old_password(self):
        old = self.cleaned_data["old_password"]
        if authenticate(self.request, username=self.user.get_username(), password=old) is None:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old


class _LockoutPasswordChangeView(PasswordChangeView):
    form_class = _LockoutPasswordChangeForm

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.request = self.request
        return form


def _admin_password_change(request):
    request.current_app = admin.site.name
    return _LockoutPasswordChangeView.as_view(
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context=admin.site.each_context(request),
    )(request)


# Mounted at /admin/password_change/ ahead of admin.site.urls (gridcare/urls.py), guarded like the admin's own.
admin_password_change = admin.site.admin_view(_admin_password_change, cacheable=True)


@staff_required(Perm.USER_UNLOCK)
def locked_users(request):
    """Accounts locked after failed logins, each with an 解锁 button (admin role)."""
    return render(request, "org/locked_users.html", {"rows": selectors.locked_users(user=request.user)})


@staff_required(Perm.USER_UNLOCK)
@require_POST
def user_unlock(request, pk: int):
    target = selectors.unlockable_user_get(user=request.user, pk=pk)
    if services.user_unlock(actor=Actor.console(request), user=target):
        messages.success(request, _("已解锁账号 %(name)s") % {"name": target.username})
    else:
        messages.info(request, _("账号 %(name)s 当前未锁定") % {"name": target.username})
    return redirect("org:locked_users")
