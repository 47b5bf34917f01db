import pytest

from gridcare.payments.channels import wechat_keys

from .simulated import simulated  # noqa: F401 — GridCare against the channel simulator


@pytest.fixture(autouse=True)
def _platform_keys_snapshot():
    """Each test starts without this process's snapshot of the stored WeChat platform keys (rows of an earlier
    test were rolled back, but the snapshot would remember them for a minute)."""
    wechat_keys.cache_clear()
    yield
    wechat_keys.cache_clear()
