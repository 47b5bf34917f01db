"""How long a login lasts. Staff: until the browser closes and at most GRIDCARE_STAFF_SESSION_HOURS (8) after
the login, however active - an absolute deadline, not a sliding one. Customers (the portal): 30 days
(GRIDCARE_PORTAL_SESSION_DAYS) after the login. API bearer tokens have no session and are not touched.

`session_start` runs on `user_logged_in`, the one hook every door's `login()` passes through (console, portal,
Django admin); `SessionDeadlineMiddleware` ends a staff session at its deadline.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.utils import timezone

DEADLINE_KEY = "gridcare_deadline"  # POSIX seconds; the session ends at or after this moment


def now():
    """The clock of this module (tests move it instead of sleeping)."""
    return timezone.now()


def session_start(request, user) -> None:
    """Set the lifetime of a session that has just logged `user` in."""
    session = getattr(request, "session", None)
    if session is None:
        return
    conf = settings.GRIDCARE
    if user.is_customer:
        session.pop(DEADLINE_KEY, None)
        # A timedelta is stored as an absolute expiry date: the cookie and the stored session end together.
        session.set_expiry(timedelta(days=conf["PORTAL_SESSION_DAYS"]))
    else:
        session.set_expiry(0)  # a browser-session cookie
        session[DEADLINE_KEY] = int((now() + timedelta(hours=conf["STAFF_SESSION_HOURS"])).timestamp())


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    if request is not None:
        session_start(request, user)


class SessionDeadlineMiddleware:
    """Logs out a session past its absolute deadline before the view runs (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        deadline = session.get(DEADLINE_KEY) if session is not None else None
        if deadline is not None and now().timestamp() >= deadline:
            logout(request)  # flushes the session; request.user becomes anonymous
        return self.get_response(request)
