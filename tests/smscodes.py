"""Reading the SMS codes the portal sends, as a tester in development does: from the notify outbox."""

import re

from gridcare.notify.models import Notification

CODE_RE = re.compile(r"验证码(\d{6})")


def last_sms_code(phone: str) -> str:
    """The 6-digit code of the newest verification SMS enqueued to `phone` (AssertionError if none)."""
    row = Notification.objects.filter(kind="sms_code", recipient=phone).order_by("-id").first()
    assert row is not None, f"no SMS code was sent to {phone}"
    match = CODE_RE.search(row.body)
    assert match, row.body
    return match.group(1)
