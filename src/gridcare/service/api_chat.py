"""Online-chat API of the 95598 service (issue 15 §7). Mounted at /api/v1/ by gridcare/api.py.

- `POST /chats` (a portal customer): start a chat, optionally about a bound account, optionally with a message;
- `GET /chats?status=` (staff with workorder.handle: the chats of their unit subtree; a customer: their own);
- `POST /chats/{id}/accept`, `POST /chats/{id}/order` (workorder.handle on the chat's unit);
- `GET /chats/{id}/messages?after=<id>` (the chat's customer or its unit's staff): the messages after the last id
  the caller has — the pages poll this every few seconds instead of holding an event stream open;
- `POST /chats/{id}/messages` (the customer, or the agent who accepted it), `POST /chats/{id}/close` (either).
Anonymous → 401; staff without workorder.handle → 403 before any lookup (a customer on a staff-only route
too); a chat missing, of another customer or outside the caller's units → 404; bad input → 422 naming the field;
an agent beaten to a chat → 409; a customer posting too fast → 429."""

from datetime import datetime
from typing import Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core.api import (
    CONFLICT_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Perm, is_customer

from . import chat as chats
from .choices import ChatStatus
from .models import ChatMessage, ChatSession

router = Router(tags=["chat"])
TOO_FAST = {429: ErrorOut}


class ChatStartIn(Schema):
    topic: Text = Field(..., max_length=100, description="咨询主题")
    account_number: Text | None = Field(None, max_length=20, description="已绑定的户号（可选）")
    message: Text = Field("", max_length=2000, description="第一条消息（可选）")


class ChatFilter(Schema):
    status: Literal["waiting", "active", "closed"] | None = Field(
        None, description="waiting / active / closed"
    )


class ChatOut(Schema):
    id: int
    status: str
    status_label: str
    topic: str
    account_number: str
    customer: str = Field(..., description="客户登录手机号（工作人员看到的是脱敏号码）")
    agent: str
    unit_id: int
    started_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    order_number: str | None


class ChatPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ChatOut]


class ChatMessageOut(Schema):
    id: int
    sender: str = Field(..., description="customer / agent / system")
    sender_label: str
    body: str
    at: datetime


class ChatMessagesOut(Schema):
    chat: ChatOut
    items: list[ChatMessageOut]
    last_id: int = Field(..., description="下次轮询传入的 after（无新消息时即传入的 after）")


class ChatAfter(Schema):
    after: int = Field(0, ge=0, le=2**62, description="只返回 id 大于此值的消息")


class ChatPostIn(Schema):
    body: Text = Field(..., max_length=2000)


class ChatOrderIn(Schema):
    type: Text = Field(..., max_length=20, description="工单类型")
    sub_type: Text | None = Field(None, max_length=20)
    description: Text = Field("", max_length=2000, description="诉求内容（会话记录自动附在其后）")
    phone: Text = Field("", max_length=20, description="联系电话（默认客户登录手机号）")
    address: Text = Field("", max_length=200, description="地址（未绑定户号时必填）")
    area: Text | None = Field(None, max_length=10, description="urban / rural / remote")


class ChatOrderOut(Schema):
    chat: ChatOut
    order_number: str


def chat_row(chat: ChatSession, user) -> dict[str, Any]:
    # Staff see the customer's login phone masked whatever their role: answering a chat needs no full number
    # (the order a chat becomes carries it), so no page or answer of the chat serves one.
    phone = chat.customer_user.phone or chat.customer_user.get_username()
    reveal = is_customer(user)
    account = chat.account.account_number if chat.account_id else ""
    return {
        "id": chat.pk,
        "status": chat.status,
        "status_label": str(ChatStatus(chat.status).label),
        "topic": chat.topic,
        "account_number": account,
        "customer": phone if reveal else mask_phone(phone),
        "agent": chats.agent_name(chat.agent) if chat.agent_id else "",
        "unit_id": chat.unit_id,
        "started_at": chat.started_at,
        "accepted_at": chat.accepted_at,
        "closed_at": chat.closed_at,
        "order_number": chat.order.number if chat.order_id else None,
    }


def message_row(m: ChatMessage, *, for_customer: bool) -> dict[str, Any]:
    return {
        "id": m.pk,
        "sender": m.sender,
        "sender_label": chats.sender_label(m, for_customer=for_customer),
        "body": m.body,
        "at": m.at,
    }


def _customer_or_handler(request) -> None:
    if not is_customer(request.user):
        require_perm(request, Perm.WORKORDER_HANDLE)


def _chat(request, chat_id: int) -> ChatSession:
    _customer_or_handler(request)
    return chats.chat_get(request.user, chat_id)


def _staff_chat(request, chat_id: int) -> ChatSession:
    require_perm(request, Perm.WORKORDER_HANDLE)
    return chats.chat_get(request.user, chat_id)


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except chats.TooFast as exc:
        raise HttpError(429, str(exc)) from None


def _fresh(request, chat: ChatSession) -> dict[str, Any]:
    return chat_row(chats.chat_get(request.user, chat.pk), request.user)


@router.post("/chats", response={201: ChatOut, **WRITE_ERRORS, **TOO_FAST}, summary="发起在线客服会话")
def chat_start(request, payload: ChatStartIn):
    """A portal customer starts a chat; staff get 403."""
    if not is_customer(request.user):
        raise HttpError(403, _("只有客户可以发起在线客服会话"))
    chat = _call(
        chats.chat_start,
        actor=api_actor(request),
        topic=payload.topic,
        account_number=payload.account_number or None,
        message=payload.message,
    )
    return Status(201, _fresh(request, chat))


@router.get("/chats", response={200: ChatPage, **LIST_ERRORS}, summary="在线客服会话列表")
def chat_list(request, filters: Query[ChatFilter], paging: Query[PageParams]):
    """Staff (workorder.handle): the chats of their units, waiting ones oldest first; a customer: their own."""
    _customer_or_handler(request)
    qs = chats.chat_list(request.user, status=filters.status or "")
    return paginate(qs, paging, lambda c: chat_row(c, request.user))


@router.post(
    "/chats/{chat_id}/accept",
    response={200: ChatOut, **WRITE_ERRORS, **CONFLICT_ERRORS},
    summary="接入会话",
)
def chat_accept(request, chat_id: int):
    chat = _staff_chat(request, chat_id)
    chats.chat_accept(actor=api_actor(request), chat=chat)
    return _fresh(request, chat)


@router.get(
    "/chats/{chat_id}/messages",
    response={200: ChatMessagesOut, **READ_ERRORS, 403: ErrorOut},
    summary="会话消息（轮询）",
)
def chat_messages(request, chat_id: int, params: Query[ChatAfter]):
    """The messages after `after` (the last id the caller has), oldest first, at most 200, with the chat's state.
    Poll every 2–3 s with the `last_id` of the previous answer."""
    chat = _chat(request, chat_id)
    items = chats.chat_messages(chat, after=params.after)
    for_customer = is_customer(request.user)
    return {
        "chat": chat_row(chat, request.user),
        "items": [message_row(m, for_customer=for_customer) for m in items],
        "last_id": items[-1].pk if items else params.after,
    }


@router.post(
    "/chats/{chat_id}/messages",
    response={201: ChatMessageOut, **WRITE_ERRORS, **TOO_FAST},
    summary="发送消息",
)
def chat_post(request, chat_id: int, payload: ChatPostIn):
    """A message from the chat's customer (rate-limited) or from the agent who accepted it."""
    chat = _chat(request, chat_id)
    message = _call(chats.chat_post, actor=api_actor(request), chat=chat, body=payload.body)
    return Status(201, message_row(message, for_customer=is_customer(request.user)))


@router.post("/chats/{chat_id}/close", response={200: ChatOut, **WRITE_ERRORS}, summary="结束会话")
def chat_close(request, chat_id: int):
    chat = _chat(request, chat_id)
    chats.chat_close(actor=api_actor(request), chat=chat)
    return _fresh(request, chat)


@router.post("/chats/{chat_id}/order", response={201: ChatOrderOut, **WRITE_ERRORS}, summary="会话转工单")
def chat_order(request, chat_id: int, payload: ChatOrderIn):
    """Turn the chat into a work order of the given type (channel chat), its transcript attached."""
    chat = _staff_chat(request, chat_id)
    order = chats.chat_to_order(
        actor=api_actor(request),
        chat=chat,
        order_type=payload.type,
        sub_type=payload.sub_type,
        description=payload.description,
        phone=payload.phone,
        address=payload.address,
        area=payload.area,
    )
    return Status(201, {"chat": _fresh(request, chat), "order_number": order.number})
