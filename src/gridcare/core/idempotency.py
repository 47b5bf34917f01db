"""`Idempotency-Key` for API writes: the same key with the same request answers the first answer again.

A key is per user; the first successful (2xx) answer is stored with a hash of the method, route and body.
A repeat with the same hash gets the stored status and body; the same key with a different request is
refused (422), so a client cannot reuse a key by mistake. Failed answers are not stored: a retry after an
error runs again. Two repeats arriving at the same moment may both run; the write they make must itself be
idempotent (payments are unique per channel transaction id), and the later one answers with the stored body.
"""

import datetime
import functools
import hashlib
import json

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Status

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"


class StoredBodyEncoder(DjangoJSONEncoder):
    """The stored body keeps times to the microsecond. DjangoJSONEncoder cuts them to the millisecond, so a time
    like 13.000412 was stored as "13.000", read back on replay as 13.000000 and answered as "13Z" where the first
    answer said "13.000Z": the replay went through the same response schema and encoder, from a different time."""

    def default(self, o):
        if isinstance(o, (datetime.datetime, datetime.time)):
            return o.isoformat()
        return super().default(o)


def idempotent(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return view(request, *args, **kwargs)
        if len(key) > 100:
            raise ValidationError({HEADER: [_("Idempotency-Key 最多100个字符")]})
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        digest = hashlib.sha256(
            b"\0".join([request.method.encode(), request.path.encode(), request.body])
        ).hexdigest()
        stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if stored is not None:
            return _replay(stored, digest)
        result = view(request, *args, **kwargs)
        status, body = (result.status_code, result.value) if isinstance(result, Status) else (200, result)
        if 200 <= status < 300:
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        key=key,
                        user=user,
                        route=request.path[:200],
                        request_hash=digest,
                        status_code=status,
                        body=json.loads(json.dumps(body, cls=StoredBodyEncoder)),
                        created_at=timezone.now(),
                    )
            except IntegrityError:
                return _replay(IdempotencyRecord.objects.get(user=user, key=key), digest)
        return result

    return wrapper


def _replay(stored: IdempotencyRecord, digest: str):
    if stored.request_hash != digest:
        raise ValidationError({HEADER: [_("该 Idempotency-Key 已用于另一个请求")]})
    return Status(stored.status_code, stored.body)
