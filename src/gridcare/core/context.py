"""Template context: which console sections the current user may open."""

from django.conf import settings

from .permissions import ROLE_PERMISSIONS, Role


def gridcare(request):
    user = getattr(request, "user", None)
    perms: frozenset[str] = frozenset()
    if user is not None and user.is_authenticated and user.role != Role.CUSTOMER and user.unit_id:
        perms = ROLE_PERMISSIONS.get(user.role, frozenset())
    # The header links to the Swagger UI only where it is routed (off in production by default).
    return {"gc_perms": perms, "gc_api_docs": settings.API_DOCS_ENABLED}
