"""The Django admin as GridCare runs it: for the administrator role only, signed in through the console.

Reference data (units, halls, topology, notice wording, dunning policies) is edited here; nothing operators
need day to day. In production the admin is not routed at all unless GRIDCARE_ADMIN_ENABLED=1 (urls.py).
"""

from urllib.parse import urlencode

from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url


class GridCareAdminSite(AdminSite):
    """Only active staff users with the administrator role (系统管理员) may use the admin; a clerk or manager
    with is_staff set is refused like anyone else."""

    def has_permission(self, request):
        from .permissions import Role

        return super().has_permission(request) and getattr(request.user, "role", None) == Role.ADMIN

    def login(self, request, extra_context=None):
        """Sign in through the console's login page, which applies the lockout and writes the audit rows
        (the admin's own form would check the password with neither)."""
        target = request.GET.get("next") or self.index_url()
        return HttpResponseRedirect(f"{resolve_url('console:login')}?{urlencode({'next': target})}")

    def index_url(self) -> str:
        from django.urls import reverse

        return reverse("admin:index", current_app=self.name)


class GridCareAdminConfig(AdminConfig):
    default_site = "gridcare.core.admin_site.GridCareAdminSite"
