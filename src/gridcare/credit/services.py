"""Writes of the credit-event register (issue 17 §1): staff recording with evidence and a second person's
approval, confirming or dismissing withholding candidates, contests and their decision. Each is one transaction
with one audit row; refusals raise ValidationError({field: [message]}) (422 / 400) or PermissionDenied (404).

- Recording (`credit.record` on the customer's unit): codes of `choices.RECORDABLE_CODES`, a date not in the
  future, never a severity; a count (≥ 1) for `unqualified_electrician` only; the inspector, when given, a staff
  user who may view credit at the customer's unit. The event is pending until approved.
- Approval (`credit.approve`, never the recorder): approve → active, reject → rejected with a reason.
- Candidates (`credit.approve`): confirm → active (scores), dismiss → dismissed, with a note (required to dismiss).
- Evidence (`credit.record` on the event's unit): PDF, JPEG or PNG checked by their first bytes, at most
  `EVIDENCE_MAX_BYTES` each and `EVIDENCE_MAX_PER_EVENT` per event.
- Contests: the customer (portal: an event of a customer of one of their bound accounts), the counter clerk
  (`credit.contest`, channel hall) or the customer manager (`credit.contest`, or being the customer's manager;
  channel manager) contest an active or pending event with a reason: the event becomes `contested`
  (status_before_contest kept) and stops scoring. One open contest per event. Decision by `credit.approve`,
  never the person who raised it: upheld → the event returns to its status before; annulled → void.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, Role, has_perm, is_customer
from gridcare.core.scoping import PermissionDenied, may_act_on_unit, require_unit, visible_unit_ids

from .choices import (
    RECORDABLE_CODES,
    ContestChannel,
    ContestStatus,
    EventCode,
    EventSource,
    EventStatus,
)
from .events import event_create
from .models import CreditContest, CreditEvent, CreditEvidence

EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_MAX_PER_EVENT = 20
DESCRIPTION_MAX = 2000
NOTE_MAX = 200
REASON_MAX = 1000
SIGNATURES = [
    (b"%PDF-", ".pdf"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
]
CONTENT_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".png": "image/png"}


def _user(actor: Actor):
    u = actor.user
    return u if u is not None and getattr(u, "is_authenticated", False) else None


def _text(value, field: str, *, required: bool, max_len: int, label: str) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if "\x00" in text:
        raise ValidationError({field: [_("不能包含空字符（NUL）")]})
    if required and not text:
        raise ValidationError({field: [_("请填写%(l)s") % {"l": label}]})
    if len(text) > max_len:
        raise ValidationError({field: [_("%(l)s最多 %(n)d 字") % {"l": label, "n": max_len}]})
    return text


def _local_now(now: datetime | None) -> datetime:
    return now or timezone.now()


# ---------------------------------------------------------------- recording


def event_record(
    *,
    actor: Actor,
    customer_id: int,
    code: str,
    day: date,
    count: int | None = None,
    description: str = "",
    inspector_id: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> CreditEvent:
    """A staff-recorded event, pending a second person's approval."""
    from gridcare.customers.models import Customer
    from gridcare.org.models import User

    now = _local_now(now)
    today = today or timezone.localdate(now)
    customer = Customer.objects.filter(pk=customer_id).only("pk", "unit_id").first() if customer_id else None
    if customer is None:
        raise PermissionDenied
    require_unit(actor, customer.unit_id, Perm.CREDIT_RECORD)
    errors: dict[str, list[str]] = {}
    if code not in RECORDABLE_CODES:
        errors["code"] = [_("不能登记该事件（账务派生事件由系统生成）或事件代码无效")]
    if day is None:
        errors["date"] = [_("请填写发生日期")]
    elif day > today:
        errors["date"] = [_("发生日期不能晚于今天")]
    if code == EventCode.UNQUALIFIED_ELECTRICIAN:
        if count is None:
            errors["count"] = [_("进网作业电工资格不符须填写人次（至少 1）")]
        elif count < 1 or count > 1000:
            errors["count"] = [_("人次须在 1 至 1000 之间")]
    elif count is not None:
        errors["count"] = [_("只有“进网作业电工资格不符”填写人次")]
    try:
        description = _text(
            description, "description", required=False, max_len=DESCRIPTION_MAX, label=_("情况说明")
        )
    except ValidationError as e:
        errors.update(e.message_dict)
    if inspector_id is not None:
        inspector = User.objects.filter(pk=inspector_id, is_active=True).first() if inspector_id > 0 else None
        if (
            inspector is None
            or inspector.role == Role.CUSTOMER
            or not has_perm(inspector, Perm.CREDIT_VIEW)
            or customer.unit_id not in visible_unit_ids(inspector)
        ):
            errors["inspector_id"] = [_("检查人须为该客户所属单位的员工")]
    if errors:
        raise ValidationError(errors)
    return event_create(
        actor=actor,
        customer_id=customer.pk,
        unit_id=customer.unit_id,
        code=code,
        day=day,
        source=EventSource.STAFF,
        status=EventStatus.PENDING,
        count=count if code == EventCode.UNQUALIFIED_ELECTRICIAN else None,
        description=description,
        inspector_id=inspector_id,
        now=now,
    )


def sniff(head: bytes) -> str | None:
    for magic, ext in SIGNATURES:
        if head.startswith(magic):
            return ext
    return None


def evidence_add(
    *, actor: Actor, event: CreditEvent, name: str, data: bytes, now: datetime | None = None
) -> CreditEvidence:
    """Attach a file (PDF, JPEG, PNG by content; at most 10 MB) to an event that is not closed."""
    require_unit(actor, event.unit_id, Perm.CREDIT_RECORD)
    now = _local_now(now)
    label = (name or "file").replace("/", "_").replace("\\", "_").replace("\x00", "")[:100] or "file"
    if not data:
        raise ValidationError({"file": [_("文件“%(n)s”是空的") % {"n": label}]})
    if len(data) > EVIDENCE_MAX_BYTES:
        raise ValidationError(
            {"file": [_("文件“%(n)s”超过 %(mb)d MB") % {"n": label, "mb": EVIDENCE_MAX_BYTES // 1048576}]}
        )
    ext = sniff(data[:16])
    if ext is None:
        raise ValidationError({"file": [_("文件“%(n)s”不是 PDF、JPG 或 PNG") % {"n": label}]})
    with transaction.atomic():
        event = CreditEvent.objects.select_for_update().get(pk=event.pk)
        if event.status in (EventStatus.VOID, EventStatus.REJECTED, EventStatus.DISMISSED):
            raise ValidationError(
                {"file": [_("该事件已%(s)s，不能再添加证据") % {"s": event.get_status_display()}]}
            )
        if event.evidence.count() >= EVIDENCE_MAX_PER_EVENT:
            raise ValidationError(
                {"file": [_("每个事件最多 %(n)d 个证据文件") % {"n": EVIDENCE_MAX_PER_EVENT}]}
            )
        digest = hashlib.sha256(data).hexdigest()
        ev = CreditEvidence(
            event=event, name=label, size=len(data), uploaded_by=_user(actor), uploaded_at=now
        )
        ev.file.save(f"{digest[:16]}{ext}", ContentFile(data), save=False)
        ev.save()
        audit_record(
            actor=actor,
            action="credit.evidence_add",
            obj=event,
            customer_id=event.customer_id,
            unit_id=event.unit_id,
            changes={"file": label, "size": len(data), "type": CONTENT_TYPES[ext]},
        )
    return ev


def evidence_content_type(ev: CreditEvidence) -> str:
    name = ev.file.name.lower()
    for ext, ctype in CONTENT_TYPES.items():
        if name.endswith(ext):
            return ctype
    return "application/octet-stream"


# ---------------------------------------------------------------- decisions on recorded events and candidates


def _decide(
    action: str,
    *,
    actor: Actor,
    event: CreditEvent,
    expect: str,
    to: str,
    note: str,
    now: datetime | None,
    second_person: bool,
) -> CreditEvent:
    require_unit(actor, event.unit_id, Perm.CREDIT_APPROVE)
    now = _local_now(now)
    with transaction.atomic():
        event = CreditEvent.objects.select_for_update().get(pk=event.pk)
        if event.status != expect:
            raise ValidationError(
                {"status": [_("该事件当前为“%(s)s”，不能执行此操作") % {"s": event.get_status_display()}]}
            )
        user = _user(actor)
        if second_person and user is not None and event.recorded_by_id == user.pk:
            raise ValidationError(
                {"approver": [_("登记人不能审批自己登记的事件，须由另一位有审批权限的人员审批")]}
            )
        before = event.status
        event.status, event.decided_by, event.decided_at = to, user, now
        event.decision_note, event.updated_at = note, now
        event.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        audit_record(
            actor=actor,
            action=action,
            obj=event,
            customer_id=event.customer_id,
            unit_id=event.unit_id,
            changes={"status": [before, to], **({"note": note} if note else {})},
        )
    return event


def event_approve(
    *, actor: Actor, event: CreditEvent, note: str = "", now: datetime | None = None
) -> CreditEvent:
    note = _text(note, "note", required=False, max_len=NOTE_MAX, label=_("审批意见"))
    return _decide(
        actor=actor,
        event=event,
        expect=EventStatus.PENDING,
        to=EventStatus.ACTIVE,
        action="credit.event_approve",
        note=note,
        now=now,
        second_person=True,
    )


def event_reject(
    *, actor: Actor, event: CreditEvent, reason: str, now: datetime | None = None
) -> CreditEvent:
    reason = _text(reason, "reason", required=True, max_len=NOTE_MAX, label=_("驳回原因"))
    return _decide(
        actor=actor,
        event=event,
        expect=EventStatus.PENDING,
        to=EventStatus.REJECTED,
        action="credit.event_reject",
        note=reason,
        now=now,
        second_person=True,
    )


def candidate_confirm(
    *, actor: Actor, event: CreditEvent, note: str = "", now: datetime | None = None
) -> CreditEvent:
    note = _text(note, "note", required=False, max_len=NOTE_MAX, label=_("确认说明"))
    return _decide(
        actor=actor,
        event=event,
        expect=EventStatus.CANDIDATE,
        to=EventStatus.ACTIVE,
        action="credit.event_confirm",
        note=note,
        now=now,
        second_person=False,
    )


def candidate_dismiss(
    *, actor: Actor, event: CreditEvent, note: str, now: datetime | None = None
) -> CreditEvent:
    note = _text(note, "note", required=True, max_len=NOTE_MAX, label=_("不予确认的理由"))
    return _decide(
        actor=actor,
        event=event,
        expect=EventStatus.CANDIDATE,
        to=EventStatus.DISMISSED,
        action="credit.event_dismiss",
        note=note,
        now=now,
        second_person=False,
    )


# ---------------------------------------------------------------- contests


def contest_channel_for(user, event: CreditEvent) -> str | None:
    """The channel through which `user` may contest `event`, or None when they may not."""
    if is_customer(user):
        from gridcare.customers.models import Account

        bound = Account.objects.filter(bindings__user=user, customer_id=event.customer_id).exists()
        return ContestChannel.PORTAL if bound else None
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if event.customer.customer_manager_id == user.pk and user.role != Role.CUSTOMER:
        return ContestChannel.MANAGER
    if may_act_on_unit(user, event.unit_id, Perm.CREDIT_CONTEST):
        if user.role == Role.CUSTOMER_MANAGER:
            return ContestChannel.MANAGER
        return ContestChannel.HALL
    return None


def contest_raise(
    *, actor: Actor, event: CreditEvent, reason: str, now: datetime | None = None
) -> CreditContest:
    """Contest an active or pending event: it stops scoring until decided."""
    channel = contest_channel_for(_user(actor), event)
    if channel is None:
        raise PermissionDenied
    reason = _text(reason, "reason", required=True, max_len=REASON_MAX, label=_("申诉理由"))
    now = _local_now(now)
    try:
        with transaction.atomic():
            event = CreditEvent.objects.select_for_update().get(pk=event.pk)
            if (
                event.status == EventStatus.CONTESTED
                or event.contests.filter(status=ContestStatus.OPEN).exists()
            ):
                raise ValidationError({"reason": [_("该事件已有待处理的申诉")]})
            if event.status not in (EventStatus.ACTIVE, EventStatus.PENDING):
                raise ValidationError(
                    {"status": [_("该事件当前为“%(s)s”，不能申诉") % {"s": event.get_status_display()}]}
                )
            contest = CreditContest.objects.create(
                event=event, channel=channel, reason=reason, raised_by=_user(actor), raised_at=now
            )
            before = event.status
            event.status_before_contest, event.status, event.updated_at = before, EventStatus.CONTESTED, now
            event.save(update_fields=["status_before_contest", "status", "updated_at"])
            audit_record(
                actor=actor,
                action="credit.contest_raise",
                obj=contest,
                customer_id=event.customer_id,
                unit_id=event.unit_id,
                changes={
                    "event": event.pk,
                    "channel": channel,
                    "reason": reason,
                    "status": [before, EventStatus.CONTESTED],
                },
            )
    except IntegrityError:  # a concurrent contest of the same event won
        raise ValidationError({"reason": [_("该事件已有待处理的申诉")]}) from None
    return contest


def contest_decide(
    *, actor: Actor, contest: CreditContest, upheld: bool, note: str, now: datetime | None = None
) -> CreditContest:
    """Upheld: the event returns to its status before the contest; annulled: the event is void."""
    event = contest.event
    require_unit(actor, event.unit_id, Perm.CREDIT_APPROVE)
    note = _text(note, "note", required=True, max_len=REASON_MAX, label=_("处理意见"))
    now = _local_now(now)
    user = _user(actor)
    with transaction.atomic():
        contest = CreditContest.objects.select_for_update().get(pk=contest.pk)
        event = CreditEvent.objects.select_for_update().get(pk=contest.event_id)
        if contest.status != ContestStatus.OPEN:
            raise ValidationError({"status": [_("该申诉已处理")]})
        if user is not None and contest.raised_by_id == user.pk:
            raise ValidationError(
                {"decided_by": [_("申诉人不能处理自己提出的申诉，须由另一位有审批权限的人员处理")]}
            )
        contest.status = ContestStatus.UPHELD if upheld else ContestStatus.ANNULLED
        contest.decided_by, contest.decided_at, contest.decision_note = user, now, note
        contest.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        before = event.status
        if event.status == EventStatus.CONTESTED:
            event.status = (event.status_before_contest or EventStatus.ACTIVE) if upheld else EventStatus.VOID
        event.status_before_contest, event.updated_at = "", now
        event.save(update_fields=["status", "status_before_contest", "updated_at"])
        audit_record(
            actor=actor,
            action="credit.contest_decide",
            obj=contest,
            customer_id=event.customer_id,
            unit_id=event.unit_id,
            changes={
                "event": event.pk,
                "decision": contest.status,
                "note": note,
                "status": [before, event.status],
            },
        )
    return contest
