"""The project's URLs plus two views that fail, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from gridcare.urls import handler403, handler404  # noqa: F401
from gridcare.urls import urlpatterns as project_urlpatterns


def boom(request):
    raise RuntimeError("boom")


def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("boom/", boom), path("portal/forbidden/", forbidden), *project_urlpatterns]
