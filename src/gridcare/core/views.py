"""Base view helpers: staff-only pages guarded by a permission; refusals look like 404."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404

from .permissions import has_perm


def staff_required(*perms: str):
    """Anonymous users go to the console login; users with none of `perms` (customers included) get 404."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), "console:login")
            if not any(has_perm(request.user, p) for p in perms):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def form_errors_from(form, exc) -> None:
    """Copy a service's ValidationError({field: [msg]}) onto a bound form."""
    detail = getattr(exc, "message_dict", None) or {"__all__": exc.messages}
    for field, messages in detail.items():
        target = field if field in form.fields else None
        for m in messages:
            form.add_error(target, m if target else f"{field}: {m}" if field != "__all__" else m)
