"""Which jobs a user sees: their own; with the permission a kind names (registry `perm`), that kind's jobs of
their unit subtree; administrators every job. Missing and forbidden answer the same (404)."""

from django.db.models import Q, QuerySet

from gridcare.core.permissions import Role, has_perm
from gridcare.core.scoping import get_or_404, visible_unit_ids

from . import registry
from .models import Job


def is_admin(user) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "role", None) == Role.ADMIN
        and bool(user.unit_id)
    )


def jobs_visible(*, user) -> QuerySet[Job]:
    qs = Job.objects.select_related("created_by")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    if getattr(user, "role", None) == Role.CUSTOMER or not user.unit_id:
        return qs.none()
    if is_admin(user):
        return qs
    kinds = [k.name for k in registry.KINDS.values() if k.perm and has_perm(user, k.perm)]
    rule = Q(created_by=user)
    if kinds:
        rule |= Q(kind__in=kinds, unit_id__in=visible_unit_ids(user))
    return qs.filter(rule)


def job_get(*, user, pk: int) -> Job:
    return get_or_404(jobs_visible(user=user), pk=pk)


def job_label(job: Job) -> str:
    k = registry.KINDS.get(job.kind)
    return str(k.label) if k else job.kind
