"""What an unexpected error shows and reports: no debug page unless a developer asks, no personal data anywhere.

- `PiiSafeExceptionReporterFilter` (settings.DEFAULT_EXCEPTION_REPORTER_FILTER): in every error report — the
  technical page under GRIDCARE_DEBUG_PAGES=1, an e-mail to ADMINS, a log handler that renders reports — the
  values of POST/GET fields, local variables, settings and request headers whose names look like personal
  data or secrets (phone, id_number, bank_account, name, address, password, code, plus Django's own
  API/AUTH/TOKEN/KEY/SECRET/PASS/SIGNATURE) are replaced by stars. Always on, not only with DEBUG off.
- `BrandedExceptionReporter` (settings.DEFAULT_EXCEPTION_REPORTER): with DEBUG on, Django answers an uncaught
  exception with the reporter's page; this one gives the branded 500 page (templates/500.html, with the
  request id) unless GRIDCARE_DEBUG_PAGES=1. With DEBUG off Django never shows a reporter's page.
"""

import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from .requestid import current_request_id

PII_NAMES = "PHONE|ID_NUMBER|BANK_ACCOUNT|NAME|ADDRESS|PASSWORD|CODE"
_PII = re.compile(PII_NAMES, flags=re.I)


def debug_pages() -> bool:
    """Django's technical error pages only when DEBUG and GRIDCARE_DEBUG_PAGES=1 are both set."""
    return bool(settings.DEBUG and getattr(settings, "DEBUG_PAGES", False))


class PiiSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Stars for PII- and secret-named fields, variables, settings and headers, in any report."""

    hidden_settings = re.compile(
        f"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|{PII_NAMES}", flags=re.I
    )

    def is_active(self, request) -> bool:
        return True

    def _cleansed(self, values: Any) -> Any:
        """A copy of `values` (the request's QueryDict, or a plain dict) with PII- and secret-named keys starred."""
        values = values.copy()
        for key in list(values):
            if _PII.search(str(key)) or self.hidden_settings.search(str(key)):
                if isinstance(values, MultiValueDict):
                    values.setlist(key, [self.cleansed_substitute])
                else:
                    values[key] = self.cleansed_substitute
        return values

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        return self._cleansed(super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return self._cleansed(super().get_post_parameters(request))

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        items = variables.items() if isinstance(variables, dict) else variables
        return [(name, self.cleanse_setting(name, value)) for name, value in items]


class BrandedExceptionReporter(ExceptionReporter):
    """The branded 500 page in place of the technical one (DEBUG on, GRIDCARE_DEBUG_PAGES off); GET
    parameters cleansed like POST ones when the technical page is shown."""

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None and "request_GET_items" in data:
            data["request_GET_items"] = self.filter.get_cleansed_multivaluedict(
                self.request, self.request.GET
            ).items()
        return data

    def get_traceback_html(self):
        if debug_pages():
            return super().get_traceback_html()
        return render_to_string("500.html", {"request_id": current_request_id()})

    def get_traceback_text(self):
        if debug_pages() or not settings.DEBUG:  # reports outside a debug page (e-mails) keep the traceback
            return super().get_traceback_text()
        return _("系统繁忙（500），请求编号：%(id)s") % {"id": current_request_id() or "-"} + "\n"
