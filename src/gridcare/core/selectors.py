"""Reads of core's own rows (the audit trail), scoped by the one unit rule of core.scoping."""

from django.db.models import QuerySet

from .models import AuditEvent
from .permissions import Perm
from .scoping import restrict


def audit_events_visible(*, user) -> QuerySet[AuditEvent]:
    """Audit events of the user's unit subtree (audit.view)."""
    return restrict(AuditEvent.objects.select_related("actor"), user, Perm.AUDIT_VIEW)
