"""Online chat (在线客服, issue 15 §7): services and selectors.

A portal customer starts a chat (a topic, optionally one of their bound accounts); it waits for an agent of its
unit — the bound account's unit, else the company (the root unit) — who accepts it (workorder.handle on that unit,
one agent per chat), and both sides post messages until either closes it. A chat can become a work order
(`chat_to_order`, channel `chat`), its transcript attached to the order.

Live updates are polling, not server-sent events: a page asks every few seconds for the messages after the last
id it has (`chat_messages(after=…)`); message ids only grow. A held-open event stream would tie up one thread of
the synchronous web server per open chat.

Who may see a chat: its customer, and staff with workorder.handle on its unit subtree; anyone else gets the same
404 as for a missing chat. Starting, accepting, closing and converting a chat are audited (`chat.*`). Individual
messages are not: the transcript itself is the record — every message is stored with its sender, author and time,
and is copied whole into the order a chat becomes — so an audit row per line would only duplicate it.
Customers may post at most CUSTOMER_RATE messages a minute and hold at most OPEN_MAX open chats."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core import ratelimit
from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict
from gridcare.core.permissions import Perm, has_perm, is_customer
from gridcare.core.scoping import PermissionDenied, may_act_on_unit, restrict

from . import services
from .choices import ChatSender, ChatStatus, OrderChannel
from .models import ChatMessage, ChatSession, WorkOrder, WorkOrderEvent

CN = ZoneInfo("Asia/Shanghai")
MESSAGE_MAX = 2000
TOPIC_MAX = 100
DESCRIPTION_MAX = 2000
CUSTOMER_RATE = (20, 60)  # messages per customer per minute
START_RATE = (10, 3600)  # chats started per customer per hour
OPEN_MAX = 3  # waiting or active chats per customer
POLL_BATCH = 200  # messages per poll answer; a client behind asks again with the last id
TRANSCRIPT_ACTION = "chat_transcript"  # the WorkOrderEvent that carries a converted chat's transcript


class TooFast(Exception):  # noqa: N818 — the HTTP name of the answer (429)
    """A customer posting or starting chats faster than the limits allow."""


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _now(now: datetime | None) -> datetime:
    return (now or timezone.now()).replace(microsecond=0)


def agent_name(user) -> str:
    return (getattr(user, "display_name", "") or user.get_username())[:50] if user else ""


def _system(chat: ChatSession, text: str, now: datetime) -> ChatMessage:
    return ChatMessage.objects.create(session=chat, sender=ChatSender.SYSTEM, body=text, at=now)


def _audit(actor: Actor, action: str, chat: ChatSession, changes: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=chat,
        customer_id=chat.account.customer_id if chat.account_id else None,
        unit_id=chat.unit_id,
        changes=changes,
    )


def _locked(chat: ChatSession) -> ChatSession:
    return ChatSession.objects.select_for_update(of=("self",)).select_related("account").get(pk=chat.pk)


def _is_staff_of(user, chat: ChatSession) -> bool:
    return may_act_on_unit(user, chat.unit_id, Perm.WORKORDER_HANDLE)


def _root_unit_id() -> int:
    from gridcare.org.models import SupplyUnit

    unit = SupplyUnit.objects.filter(parent__isnull=True).order_by("id").values_list("id", flat=True).first()
    if unit is None:
        raise _err("account", _("系统中没有供电单位"))
    return unit


# ---------------------------------------------------------------- services


def chat_start(
    *,
    actor: Actor,
    topic: str,
    account_number: str | None = None,
    message: str = "",
    now: datetime | None = None,
) -> ChatSession:
    """A portal customer starts a chat, optionally about one of their bound accounts, optionally with a first
    message. Its unit is the account's, else the company's."""
    from gridcare.customers.models import Account

    user = actor.user
    if not is_customer(user):
        raise PermissionDenied()
    now = _now(now)
    topic = " ".join((topic or "").split())
    message = (message or "").strip()
    if not topic:
        raise _err("topic", _("请填写咨询主题"))
    if len(topic) > TOPIC_MAX:
        raise _err("topic", _("主题不能超过 %(n)d 个字") % {"n": TOPIC_MAX})
    if len(message) > MESSAGE_MAX:
        raise _err("message", _("消息不能超过 %(n)d 个字") % {"n": MESSAGE_MAX})
    account = None
    if account_number:
        account = Account.objects.filter(account_number=account_number, bindings__user=user).first()
        if account is None:
            raise _err("account", _("户号 %(n)s 未绑定到您的账号") % {"n": account_number[:20]})
    if (
        ChatSession.objects.filter(
            customer_user=user, status__in=(ChatStatus.WAITING, ChatStatus.ACTIVE)
        ).count()
        >= OPEN_MAX
    ):
        raise _err("topic", _("您已有 %(n)d 个进行中的会话，请先结束后再发起") % {"n": OPEN_MAX})
    if not ratelimit.hit("chat_start", str(user.pk), *START_RATE):
        raise TooFast(_("发起会话过于频繁，请稍后再试"))
    with transaction.atomic():
        chat = ChatSession.objects.create(
            customer_user=user,
            account=account,
            unit_id=account.unit_id if account else _root_unit_id(),
            topic=topic,
            started_at=now,
        )
        if message:
            ChatMessage.objects.create(
                session=chat, sender=ChatSender.CUSTOMER, author=user, body=message, at=now
            )
        _audit(
            actor,
            "chat.start",
            chat,
            {"topic": topic, **({"account_number": account.account_number} if account else {})},
        )
    return chat


def chat_accept(*, actor: Actor, chat: ChatSession, now: datetime | None = None) -> ChatSession:
    """An agent (workorder.handle on the chat's unit) takes a waiting chat. Taken by someone else first:
    Conflict; closed: ValidationError."""
    if actor.user is None or not _is_staff_of(actor.user, chat):
        raise PermissionDenied()
    now = _now(now)
    with transaction.atomic():
        chat = _locked(chat)
        if chat.status == ChatStatus.ACTIVE:
            if chat.agent_id == actor.user.pk:
                return chat
            raise Conflict(_("该会话已由 %(a)s 接入") % {"a": agent_name(chat.agent)}, holder=chat.agent)
        if chat.status != ChatStatus.WAITING:
            raise _err("chat", _("会话已结束"))
        chat.status = ChatStatus.ACTIVE
        chat.agent = actor.user
        chat.accepted_at = now
        chat.save(update_fields=["status", "agent", "accepted_at"])
        _system(chat, _("客服 %(a)s 已接入，正在为您服务") % {"a": agent_name(actor.user)}, now)
        _audit(actor, "chat.accept", chat, {"status": [ChatStatus.WAITING, ChatStatus.ACTIVE]})
    return chat


def chat_post(*, actor: Actor, chat: ChatSession, body: str, now: datetime | None = None) -> ChatMessage:
    """One message: from the chat's customer (waiting or active; rate-limited), or from the agent who accepted
    it. Not audited — the stored message is the record (see the module docstring)."""
    user = actor.user
    body = (body or "").strip()
    if user is not None and chat.customer_user_id == user.pk and is_customer(user):
        sender = ChatSender.CUSTOMER
    elif user is not None and _is_staff_of(user, chat):
        sender = ChatSender.AGENT
    else:
        raise PermissionDenied()
    if not body:
        raise _err("body", _("请输入消息内容"))
    if len(body) > MESSAGE_MAX:
        raise _err("body", _("消息不能超过 %(n)d 个字") % {"n": MESSAGE_MAX})
    now = _now(now)
    with transaction.atomic():
        chat = _locked(chat)
        if chat.status == ChatStatus.CLOSED:
            raise _err("chat", _("会话已结束"))
        if sender == ChatSender.AGENT:
            if chat.status == ChatStatus.WAITING:
                raise _err("chat", _("请先接入该会话"))
            if chat.agent_id != user.pk:
                raise _err("chat", _("该会话由 %(a)s 接待") % {"a": agent_name(chat.agent)})
        elif not ratelimit.hit("chat_msg", str(user.pk), *CUSTOMER_RATE):
            raise TooFast(_("发送过于频繁，请稍后再试"))
        return ChatMessage.objects.create(session=chat, sender=sender, author=user, body=body, at=now)


def chat_close(*, actor: Actor, chat: ChatSession, now: datetime | None = None) -> ChatSession:
    """End a chat: its customer, or staff with workorder.handle on its unit. Closing a closed chat is refused."""
    user = actor.user
    by_customer = user is not None and chat.customer_user_id == user.pk and is_customer(user)
    if not by_customer and (user is None or not _is_staff_of(user, chat)):
        raise PermissionDenied()
    now = _now(now)
    with transaction.atomic():
        chat = _locked(chat)
        if chat.status == ChatStatus.CLOSED:
            raise _err("chat", _("会话已结束"))
        before = chat.status
        chat.status = ChatStatus.CLOSED
        chat.closed_at = now
        chat.save(update_fields=["status", "closed_at"])
        _system(chat, _("客户已结束会话") if by_customer else _("客服已结束会话"), now)
        _audit(actor, "chat.close", chat, {"status": [before, ChatStatus.CLOSED]})
    return chat


def chat_to_order(
    *,
    actor: Actor,
    chat: ChatSession,
    order_type: str,
    sub_type: str | None = None,
    description: str = "",
    phone: str = "",
    address: str = "",
    area: str | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Turn an accepted chat into a work order (workorder.handle on its unit; once per chat): type chosen by the
    agent, channel `chat`, the chat's account (or the phone and address given), the description as written with
    the transcript appended, and the transcript as a `chat_transcript` event on the order. The customer is told
    the order number in the chat."""
    user = actor.user
    if user is None or not _is_staff_of(user, chat):
        raise PermissionDenied()
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise _err("description", _("诉求内容不能超过 %(n)d 个字") % {"n": DESCRIPTION_MAX})
    now = _now(now)
    with transaction.atomic():
        chat = _locked(chat)
        if chat.order_id is not None:
            raise _err(
                "chat",
                _("该会话已转为工单 %(n)s") % {"n": WorkOrder.objects.get(pk=chat.order_id).number},
            )
        if chat.status == ChatStatus.WAITING:
            raise _err("chat", _("请先接入该会话"))
        text = transcript(chat)
        heading = _("在线客服会话 #%(id)d 记录") % {"id": chat.pk}
        full = f"{description}\n\n—— {heading} ——\n{text}" if description else f"—— {heading} ——\n{text}"
        created = services.work_order_create(
            actor=actor,
            order_type=order_type,
            channel=OrderChannel.CHAT,
            sub_type=sub_type or None,
            account_number=chat.account.account_number if chat.account_id else None,
            phone=(phone or "").strip() or chat.customer_user.phone or "",
            address=(address or "").strip(),
            area=area or None,
            description=full,
            unit_id=chat.unit_id,
            customer_user=chat.customer_user,
            now=now,
        )
        order = created.order
        WorkOrderEvent.objects.create(
            order=order,
            action=TRANSCRIPT_ACTION,
            from_status=order.status,
            to_status=order.status,
            actor=user,
            actor_label=agent_name(user)[:60],
            at=now,
            note=f"{heading}\n{text}",
            data={"chat": chat.pk, "messages": chat.messages.count()},
        )
        chat.order = order
        chat.save(update_fields=["order"])
        _system(chat, _("已为您登记工单 %(n)s，可在“我的工单”中查看进度") % {"n": order.number}, now)
        _audit(actor, "chat.order", chat, {"number": order.number, "type": order_type})
    return order


# ---------------------------------------------------------------- selectors


def chats_visible(user) -> QuerySet[ChatSession]:
    """Chats a staff user may answer: their unit subtree, workorder.handle; none for anyone else."""
    return restrict(ChatSession.objects.all(), user, Perm.WORKORDER_HANDLE)


def chats_of_customer(user) -> QuerySet[ChatSession]:
    if not is_customer(user):
        return ChatSession.objects.none()
    return ChatSession.objects.filter(customer_user=user)


def chats_for(user) -> QuerySet[ChatSession]:
    """A customer's own chats, or the chats a staff user may answer."""
    return chats_of_customer(user) if is_customer(user) else chats_visible(user)


def chat_get(user, chat_id: int) -> ChatSession:
    """One chat for its customer or for staff of its unit; Http404 for missing and forbidden alike."""
    if not 0 < chat_id < 2**31:
        raise Http404
    chat = (
        chats_for(user)
        .select_related("account", "agent", "customer_user", "order", "unit")
        .filter(pk=chat_id)
        .first()
    )
    if chat is None:
        raise Http404
    return chat


def chat_list(user, *, status: str = "") -> QuerySet[ChatSession]:
    """Waiting chats oldest first (the queue); otherwise newest first."""
    qs = chats_for(user).select_related("account", "agent", "customer_user", "order")
    if status:
        qs = qs.filter(status=status)
    if status == ChatStatus.WAITING:
        return qs.order_by("started_at", "id")
    return qs.order_by("-started_at", "-id")


def chat_console_lists(user) -> dict[str, list[ChatSession]]:
    """The agent console: the unit's waiting chats, the agent's own active chats, and the latest closed ones."""
    base = chats_visible(user).select_related("account", "agent", "customer_user", "order")
    return {
        "waiting": list(base.filter(status=ChatStatus.WAITING).order_by("started_at", "id")[:100]),
        "mine": list(base.filter(status=ChatStatus.ACTIVE, agent=user).order_by("accepted_at", "id")[:100]),
        "others": list(
            base.filter(status=ChatStatus.ACTIVE).exclude(agent=user).order_by("accepted_at", "id")[:100]
        ),
        "closed": list(base.filter(status=ChatStatus.CLOSED).order_by("-closed_at", "-id")[:20]),
    }


def chat_messages(chat: ChatSession, *, after: int = 0, limit: int = POLL_BATCH) -> list[ChatMessage]:
    """The messages with an id above `after`, oldest first, at most `limit`: a poller passes the last id it saw
    and gets only what is new (nothing when nothing is)."""
    return list(
        ChatMessage.objects.filter(session=chat, id__gt=max(after, 0))
        .select_related("author")
        .order_by("id")[:limit]
    )


def sender_label(message: ChatMessage, *, for_customer: bool) -> str:
    if message.sender == ChatSender.CUSTOMER:
        return _("我") if for_customer else _("客户")
    if message.sender == ChatSender.AGENT:
        return _("客服 %(a)s") % {"a": agent_name(message.author)}
    return _("系统")


def transcript(chat: ChatSession) -> str:
    """The whole chat as text, a line per message: time (China), who, what."""
    lines = []
    for m in ChatMessage.objects.filter(session=chat).select_related("author").order_by("id"):
        who = sender_label(m, for_customer=False)
        lines.append(f"[{m.at.astimezone(CN):%Y-%m-%d %H:%M:%S}] {who}：{m.body}")
    return "\n".join(lines)


def prefill_description(chat: ChatSession) -> str:
    """What the customer wrote, for the order form's description (the agent edits it)."""
    parts = [chat.topic] + list(
        ChatMessage.objects.filter(session=chat, sender=ChatSender.CUSTOMER)
        .order_by("id")
        .values_list("body", flat=True)
    )
    return "\n".join(p for p in parts if p)[:DESCRIPTION_MAX]


def is_chat_customer(user, chat: ChatSession) -> bool:
    return is_customer(user) and chat.customer_user_id == user.pk


def may_answer(user) -> bool:
    return has_perm(user, Perm.WORKORDER_HANDLE)
