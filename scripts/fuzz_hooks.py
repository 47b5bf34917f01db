"""schemathesis hooks for scripts/fuzz.py (loaded through SCHEMATHESIS_HOOKS=fuzz_hooks).

`no_write_on_error`: an error answer (status >= 400) must not have committed a write. The server marks
such answers with the header set by gridcare.core.fuzzprobe (GRIDCARE_FUZZ_WRITE_PROBE=1).
"""

import os
import secrets
import time
from pathlib import Path

import requests
import schemathesis

PROBE_HEADER = "x-gridcare-fuzz-writes"


@schemathesis.check
def no_write_on_error(ctx, response, case):
    """An error response whose request committed an INSERT/UPDATE/DELETE (outside the allow-list)."""
    writes = response.headers.get(PROBE_HEADER)
    if response.status_code >= 400 and writes:
        raise AssertionError(f"HTTP {response.status_code} answered after committing: {', '.join(writes)}")
    return None


# ---------------------------------------------------------------- signed machine APIs (terminals, agents)
# GRIDCARE_FUZZ_SIGN="<id header>:<caller code>:<private key PEM file>" signs every request as that caller
# (gridcare.payments.channels.signed_requests): the signature covers the bytes requests is about to send.

_SIGN = os.environ.get("GRIDCARE_FUZZ_SIGN", "")


class _SignedAuth(requests.auth.AuthBase):
    def __init__(self, spec: str):
        self.header, self.code, key_file = spec.split(":", 2)
        self.private_pem = Path(key_file).read_text()

    def __call__(self, r):
        from gridcare.payments.channels.signatures import request_sign

        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
        r.headers[self.header] = self.code
        r.headers["X-Timestamp"] = timestamp
        r.headers["X-Nonce"] = nonce
        r.headers["X-Signature"] = request_sign(
            self.private_pem, r.method, r.path_url, timestamp, nonce, body
        )
        return r


if _SIGN:
    _auth = _SignedAuth(_SIGN)

    @schemathesis.hook
    def before_call(context, case, kwargs):
        kwargs["auth"] = _auth
