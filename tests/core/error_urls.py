"""The project's URLs plus views that fail, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from gridcare.urls import handler400, handler403, handler404, handler500  # noqa: F401
from gridcare.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("boom")


def boom_with_pii(request):
    phone = request.POST.get("phone", "")  # a local a technical page would show
    raise RuntimeError(f"boom for customer {len(phone)}")


def forbidden(request):
    raise PermissionDenied


urlpatterns = [
    path("boom/", boom),
    path("boom-pii/", csrf_exempt(boom_with_pii)),
    path("portal/forbidden/", forbidden),
    *project_urlpatterns,
]
