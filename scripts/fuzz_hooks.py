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


# ---------------------------------------------------------------- known 500s fixed on another branch
# Each entry: (label, method, path template, predicate on the case and the response). A 5xx answer matching
# an entry does not fail the run (schemathesis counts it as "dropped by filter_failure", and the label is
# appended to $GRIDCARE_FUZZ_KNOWN_LOG); every other failure does. The "errors" branch fixes all five:
# delete the entries (and this section) when it is merged.


def _query_value(case, name):
    return [v if isinstance(v, str) else str(v) for k, v in (case.query or {}).items() if k == name]


KNOWN_ELSEWHERE = [
    (
        "alipay notify: charset that is not a text codec (punycode, idna)",
        "POST",
        "/pay/alipay/notify",
        lambda case, response: isinstance(case.body, dict) and "charset" in case.body,
    ),
    (
        "wechat notify: WeChat Pay settings missing",
        "POST",
        "/pay/wechat/notify",
        lambda case, response: b"settings missing" in (response.content or b""),
    ),
    (
        "account_number query with NUL on PostgreSQL",
        None,
        None,
        lambda case, response: any("\x00" in v for v in _query_value(case, "account_number")),
    ),
    (
        "as_of=0001-01-01",
        None,
        None,
        lambda case, response: any(v.startswith("0001") for v in _query_value(case, "as_of")),
    ),
    (
        "PATCH customer notify_*: null",
        "PATCH",
        "/customers/{customer_id}",
        lambda case, response: (
            isinstance(case.body, dict)
            and any(k.startswith("notify_") and v is None for k, v in case.body.items())
        ),
    ),
]
_KNOWN_LOG = os.environ.get("GRIDCARE_FUZZ_KNOWN_LOG", "")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """False (drop) for a 5xx answer to a case on the KNOWN_ELSEWHERE list."""
    if response is None or response.status_code < 500:
        return True
    method, path = case.operation.method.upper(), case.operation.path
    for label, m, p, pred in KNOWN_ELSEWHERE:
        if (m is None or m == method) and (p is None or path.endswith(p)) and pred(case, response):
            if _KNOWN_LOG:
                with open(_KNOWN_LOG, "a") as fh:
                    fh.write(f"{label}\t{method} {path}\n")
            return False
    return True


# ---------------------------------------------------------------- signed machine APIs (terminals, agents)
# GRIDCARE_FUZZ_SIGN="<id header>:<caller code>:<private key PEM file>" signs every request as that caller
# (gridcare.payments.signed_requests): the signature covers the bytes requests is about to send.

_SIGN = os.environ.get("GRIDCARE_FUZZ_SIGN", "")


class _SignedAuth(requests.auth.AuthBase):
    def __init__(self, spec: str):
        self.header, self.code, key_file = spec.split(":", 2)
        self.private_pem = Path(key_file).read_text()

    def __call__(self, r):
        from gridcare.payments.signatures import request_sign

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
