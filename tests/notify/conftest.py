"""Outbox tests: the file backend writes under tmp_path; no dispatch on commit unless a test asks for it."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

SH = ZoneInfo("Asia/Shanghai")


def at(y, mo, d, h=10, mi=0, s=0) -> datetime:
    """An aware Beijing time."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


@pytest.fixture(autouse=True)
def notify_settings(settings, tmp_path):
    settings.NOTIFY = {
        **settings.NOTIFY,
        "BACKENDS": {"sms": "file", "wechat": "file", "email": "file"},
        "FILE_PATH": str(tmp_path / "outbox.jsonl"),
        "MAX_ATTEMPTS": 5,
    }
    return settings
