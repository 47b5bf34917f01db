"""The only authentication backend (settings.AUTHENTICATION_BACKENDS): every password check goes through the
shared login lockout, whichever door asks - the console and portal login pages, Django admin's login form
(it calls `authenticate()`), any door added later. Replacing ModelBackend rather than sitting beside it leaves
no path that checks a password without the lockout.
"""

from django.contrib.auth.backends import ModelBackend

from gridcare.core.choices import Channel
from gridcare.core.clientip import client_ip

from . import services
from .models import User


class LockoutBackend(ModelBackend):
    """ModelBackend's permissions and `get_user`, with `authenticate` through `services.login_attempt`.

    `portal=True` (the portal's login page) admits customers only; otherwise staff only (the console, the admin).
    """

    def authenticate(self, request, username=None, password=None, portal: bool = False, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        return services.login_attempt(
            username=str(username),
            password=password,
            ip=client_ip(request) if request is not None else None,
            channel=Channel.PORTAL if portal else Channel.CONSOLE,
            portal=portal,
        )
