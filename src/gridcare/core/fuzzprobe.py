"""Write probe for the API fuzzer: did a request that answered an error write anything?

Only installed when `GRIDCARE_FUZZ_WRITE_PROBE=1` (settings), never in production. It watches every SQL
statement of the request through `connection.execute_wrapper`; an INSERT/UPDATE/DELETE counts only once
it is committed (`transaction.on_commit`, so a write rolled back with its transaction or savepoint does
not). When the response is an error (status >= 400) and a counted write is not on the allow-list, the
response carries `X-GridCare-Fuzz-Writes: <statement> <table>, ...`; the schemathesis hook
(`scripts/fuzz_hooks.py`) fails the case on that header.
"""

import re

from django.db import connection, transaction

HEADER = "X-GridCare-Fuzz-Writes"

_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)

# Writes an error answer may legitimately make. Keep this list short and explain every entry.
ALLOWED_TABLE_WRITES = {
    # TokenAuth stamps last_used_at (at most once a minute) before the view runs.
    ("UPDATE", "org_apitoken"),
    # Signed machine requests (terminals, collection agents): the replay guard stores each accepted nonce,
    # prunes old ones and stamps last_seen_at, before the view decides (gridcare.payments.channels.signed_requests).
    ("INSERT", "payments_terminalnonce"),
    ("DELETE", "payments_terminalnonce"),
    ("UPDATE", "payments_terminal"),
    ("INSERT", "payments_agentnonce"),
    ("DELETE", "payments_agentnonce"),
    ("UPDATE", "payments_collectionagent"),
    # A wrong SMS code (POST /fault-reports/verify) uses up one of the code's tries (gridcare.portal.codes).
    ("UPDATE", "portal_smscode"),
}
# Audit rows of security events, written precisely because the request was refused.
ALLOWED_AUDIT_ACTIONS = frozenset(
    {"user.login_failed", "user.locked", "portal.bind_failed", "portal.sms_code_failed"}
)


def _flat(params):
    if isinstance(params, list | tuple):
        for p in params:
            yield from _flat(p)
    elif isinstance(params, dict):
        yield from params.values()
    else:
        yield params


def _allowed(kind: str, table: str, params) -> bool:
    if (kind, table) in ALLOWED_TABLE_WRITES:
        return True
    if kind == "INSERT" and table == "core_auditevent":
        return any(isinstance(p, str) and p in ALLOWED_AUDIT_ACTIONS for p in _flat(params))
    return False


class FuzzWriteProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        committed: list[str] = []

        def probe(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            match = _WRITE.match(sql or "")
            if match:
                kind = match.group(1).split()[0].upper()
                table = match.group(2)
                if not _allowed(kind, table, params):
                    label = f"{kind} {table}"
                    # Runs at once outside a transaction, at commit inside one, never after a rollback.
                    transaction.on_commit(lambda: committed.append(label))
            return result

        with connection.execute_wrapper(probe):
            response = self.get_response(request)
        if response.status_code >= 400 and committed:
            response[HEADER] = ", ".join(sorted(set(committed)))
        return response
