"""Reading the SMS codes the portal sends, as a tester in development does: from the notify outbox row, or,
once the row was sent (its code is then masked in the database), from the development file backend
(NOTIFY["FILE_PATH"], var/notify/outbox.jsonl)."""

import json
import re
from pathlib import Path

from django.conf import settings

from gridcare.notify.models import Notification

CODE_RE = re.compile(r"验证码(\d{6})")


def _from_file(row: Notification) -> str | None:
    path = Path(settings.NOTIFY["FILE_PATH"])
    if not path.exists():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        entry = json.loads(line)
        if entry.get("id") == row.pk and entry.get("kind") == "sms_code":
            match = CODE_RE.search(entry.get("body", ""))
            return match.group(1) if match else None
    return None


def last_sms_code(phone: str) -> str:
    """The 6-digit code of the newest verification SMS enqueued to `phone` (AssertionError if none)."""
    row = Notification.objects.filter(kind="sms_code", recipient=phone).order_by("-id").first()
    assert row is not None, f"no SMS code was sent to {phone}"
    match = CODE_RE.search(row.body)
    code = match.group(1) if match else _from_file(row)
    assert code, row.body
    return code
