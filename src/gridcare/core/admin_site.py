"""The Django admin as GridCare runs it: for the administrator role only. Its login form checks passwords
through the shared lockout backend (gridcare.org.backends), like every other door.

Reference data (units, halls, topology, notice wording, dunning policies) is edited here; nothing operators
need day to day. In production the admin is not routed at all unless GRIDCARE_ADMIN_ENABLED=1 (urls.py).
"""

from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite


class GridCareAdminSite(AdminSite):
    """Only active staff users with the administrator role (系统管理员) may use the admin; a clerk or manager
    with is_staff set is refused like anyone else."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from .admin_forms import GridCareAdminLoginForm  # the site is built before the models are loaded

        self.login_form = GridCareAdminLoginForm

    def has_permission(self, request):
        from .permissions import Role

        return super().has_permission(request) and getattr(request.user, "role", None) == Role.ADMIN


class GridCareAdminConfig(AdminConfig):
    default_site = "gridcare.core.admin_site.GridCareAdminSite"
