"""Organisation API: supply units and service halls of the caller's subtree, and API tokens.

`GET /units` and `GET /halls` are collection routes: a role without org.view gets 403.
`GET /users/locked` (admin role, 403 for other roles) lists the accounts locked after failed logins;
`POST /users/{id}/unlock` (admin role) lifts a login lock; any other caller, and a user outside the admin's
reach, gets the same 404 as a missing user.
`POST /tokens` lets a logged-in staff user (console session only, never a token) create a bearer
token for themselves; the clear key is in the answer once and never again.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from gridcare.core.api import (
    LIST_ERRORS,
    WRITE_ERRORS,
    Text,
    api_actor,
    require_object_perm,
    require_perm,
    session_auth,
)
from gridcare.core.permissions import Perm
from gridcare.core.scoping import get_or_404

from . import selectors, services

router = Router(tags=["org"])


class UnitOut(Schema):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str


class CounterOut(Schema):
    id: int
    number: int
    name: str


class HallOut(Schema):
    id: int
    code: str
    name: str
    address: str
    opening_hours: str
    unit_id: int
    unit_name: str
    counters: list[CounterOut]


class TokenIn(Schema):
    name: Text = Field(..., min_length=1, max_length=100, description="用途说明，如 营销系统对接")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    key: str = Field(..., description="完整令牌，仅此一次返回；请求头 Authorization: Bearer <key>")


@router.get("/units", response={200: list[UnitOut], **LIST_ERRORS})
def unit_list(request):
    """Supply units of the caller's subtree, in tree order."""
    require_perm(request, Perm.ORG_VIEW)
    return [
        {
            "id": u.pk,
            "code": u.code,
            "name": u.name,
            "level": u.level,
            "parent_id": u.parent_id,
            "path": u.path,
        }
        for u in selectors.unit_list(user=request.user).order_by("path")
    ]


@router.get("/halls", response={200: list[HallOut], **LIST_ERRORS})
def hall_list(request):
    """Service halls of the caller's subtree with their counters."""
    require_perm(request, Perm.ORG_VIEW)
    return [
        {
            "id": h.pk,
            "code": h.code,
            "name": h.name,
            "address": h.address,
            "opening_hours": h.opening_hours,
            "unit_id": h.unit_id,
            "unit_name": h.unit.name,
            "counters": [{"id": c.pk, "number": c.number, "name": c.name} for c in h.counters.all()],
        }
        for h in selectors.hall_list(user=request.user).order_by("code")
    ]


@router.post("/tokens", auth=session_auth, response={201: TokenOut, **WRITE_ERRORS}, tags=["auth"])
def token_create(request, payload: TokenIn):
    """Create a bearer token for the logged-in staff user (console session required)."""
    if not request.user.is_staff_user:
        raise HttpError(403, _("只有员工账号可以创建访问令牌"))
    name = payload.name.strip()
    if not name:
        raise ValidationError({"name": [_("令牌名称不能为空")]})
    token, key = services.api_token_create(actor=api_actor(request), user=request.user, name=name)
    return Status(
        201,
        {
            "id": token.pk,
            "name": token.name,
            "prefix": token.prefix,
            "created_at": token.created_at,
            "key": key,
        },
    )


class LockedUserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    locked_until: datetime


@router.get("/users/locked", response={200: list[LockedUserOut], **LIST_ERRORS}, tags=["auth"])
def locked_user_list(request):
    """Accounts locked right now after repeated failed logins that the caller may unlock (admin role)."""
    require_perm(request, Perm.USER_UNLOCK)
    return [
        {
            "id": u.pk,
            "username": u.shown_username,
            "display_name": u.shown_display_name,
            "role": u.role,
            "unit_id": u.unit_id,
            "locked_until": u.locked_until,
        }
        for u in selectors.locked_users(user=request.user)
    ]


class UnlockOut(Schema):
    id: int
    username: str
    unlocked: bool = Field(..., description="true：本次解除了锁定；false：账号当前未锁定，未做任何修改")


@router.post("/users/{user_id}/unlock", response={200: UnlockOut, **WRITE_ERRORS}, tags=["auth"])
def user_unlock(request, user_id: int):
    """Unlock an account locked after repeated failed logins (admin role; audited as user.unlock)."""
    require_object_perm(request, Perm.USER_UNLOCK)
    target = selectors.unlockable_user_get(user=request.user, pk=user_id)
    unlocked = services.user_unlock(actor=api_actor(request), user=target)
    return {"id": target.pk, "username": selectors.shown_username(target), "unlocked": unlocked}


class TokenRow(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked: bool


def _token_row(t) -> dict:
    return {
        "id": t.pk,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "expires_at": t.created_at + timedelta(days=settings.GRIDCARE["API_TOKEN_DAYS"]),
        "last_used_at": t.last_used_at,
        "revoked": t.revoked,
    }


@router.get("/tokens", response={200: list[TokenRow], **LIST_ERRORS}, tags=["auth"])
def token_list(request):
    """The caller's own API tokens (never the keys): when each expires, was last used, whether revoked."""
    return [_token_row(t) for t in selectors.own_tokens(user=request.user)]


class TokenRevokeOut(Schema):
    id: int
    revoked: bool = Field(..., description="true：本次吊销；false：此前已吊销，未做任何修改")


@router.delete("/tokens/{token_id}", response={200: TokenRevokeOut, **WRITE_ERRORS}, tags=["auth"])
def token_revoke(request, token_id: int):
    """Revoke one of the caller's own tokens (audited as api_token.revoke); another user's token answers 404."""
    token = get_or_404(selectors.own_tokens(user=request.user), pk=token_id)
    revoked = services.api_token_revoke(actor=api_actor(request), token=token)
    return {"id": token.pk, "revoked": revoked}
