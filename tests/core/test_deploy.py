"""Production settings pass Django's deployment checks and refuse to start without a secret key."""

import os
import subprocess
import sys


def _manage(*args, **env):
    full = {**os.environ, "GRIDCARE_DEBUG": "0", "GRIDCARE_ALLOWED_HOSTS": "gridcare.example.cn", **env}
    full.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the test run for Playwright, never in production
    if "GRIDCARE_SECRET_KEY" not in env:
        full.pop("GRIDCARE_SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "gridcare.manage", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        GRIDCARE_SECRET_KEY="x" * 20 + "production-secret-" + "y" * 30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_needs_a_secret_key():
    result = _manage("check")
    assert result.returncode != 0 and "GRIDCARE_SECRET_KEY" in result.stderr
