"""Collection agents (代收机构): collection points (代收点 — shops, post offices, bank branches taking
electricity payments over their counter) and phone banking (电话银行).

- Registry: `agent_add` (command `gridcare agent_add`): code, name, kind (= the channel of its payments,
  ``collection_point`` or ``phone_bank``), supply unit, Ed25519 public key (only the public key is stored),
  enabled flag (switched off in the admin).
- Requests: signed exactly as the terminals' (`signed_requests`), with the agent's code in ``X-Agent-Id``;
  the agent serves the accounts of its unit's subtree, others answer like an unknown 户号.
- Payments: `agent_payment` records through `services.payment_record` with channel = the agent's kind and the
  transaction id "<agent code>:<agent transaction id>": unique per (channel, agent, id), so a retry answers
  the same payment and a reused id with another account or amount is refused.
  ``paid_at`` is the agent's time of payment (ISO 8601; without an offset it is Beijing time): it dates the
  payment (late fee, statement day), so it may be neither after our clock plus the signature window nor
  more than 72 hours back — an older payment is settled from the daily file by 补录.
- Settlement: the agent's daily CSV file, reconciled by `reconciliation` (``--channel collection_point
  --agent CODE``).
"""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm
from gridcare.core.scoping import restrict
from gridcare.payments.choices import AGENT_CHANNELS, PaymentChannel
from gridcare.payments.models import AgentNonce, CollectionAgent

from . import signed_requests

BEIJING = ZoneInfo("Asia/Shanghai")
AGENTS = signed_requests.Callers(CollectionAgent, AgentNonce, "agent", "X-Agent-Id", "agent")
PAID_AT_MAX_AGE = timedelta(hours=72)


def kind_choices() -> list[tuple[str, str]]:
    return [(c.value, str(c.label)) for c in AGENT_CHANNELS]


@transaction.atomic
def agent_add(*, actor: Actor, code: str, name: str, kind: str, unit, public_key: str) -> CollectionAgent:
    """Register a collection agent with its Ed25519 public key (PEM). Refused, naming each field: bad or
    taken code, no name, an unknown kind, a bad key."""
    errs: dict[str, list[str]] = {}
    try:
        code, public_key, _name = signed_requests.clean_registration(
            AGENTS, code=code, public_key=public_key, name=name, code_label=_("机构编号")
        )
    except ValidationError as exc:
        errs.update(exc.message_dict)
    name = (name or "").strip()
    if not name or len(name) > 100 or "\x00" in name:
        errs["name"] = [_("请填写机构名称（最多100字）")]
    if kind not in AGENT_CHANNELS:
        errs["kind"] = [
            _("渠道类型应为：%(k)s") % {"k": "、".join(f"{v}（{label}）" for v, label in kind_choices())}
        ]
    if errs:
        raise ValidationError(errs)
    agent = CollectionAgent.objects.create(
        code=code, name=name, kind=kind, unit=unit, public_key=public_key, created_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="agent.add",
        obj=agent,
        unit_id=unit.pk,
        changes={"code": code, "name": name, "kind": kind},
    )
    return agent


def account_query(agent: CollectionAgent, account_number: str) -> dict[str, Any] | None:
    """Masked name and address, supply unit, amount due; None for an account outside the agent's units."""
    return signed_requests.account_query(agent.unit, account_number)


def parse_paid_at(raw: Any, now: datetime) -> datetime:
    """The agent's time of payment (see the module docstring), or ValidationError on `paid_at`."""
    text = str(raw or "").strip()
    try:
        if not text or len(text) > 40:
            raise ValueError
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            {"paid_at": [_("缴费时间格式应为 YYYY-MM-DDTHH:MM:SS（可带时区，缺省为北京时间）")]}
        ) from None
    if timezone.is_naive(at):
        at = at.replace(tzinfo=BEIJING)
    if at > now + signed_requests.WINDOW:
        raise ValidationError({"paid_at": [_("缴费时间不能晚于当前时间")]})
    if at < now - PAID_AT_MAX_AGE:
        raise ValidationError({"paid_at": [_("缴费时间早于72小时前：请通过对账文件补录")]})
    return at


def agent_payment(
    *,
    agent: CollectionAgent,
    transaction_id: Any,
    account_number: Any,
    amount: Any,
    paid_at: Any,
    now: datetime | None = None,
    ip: str | None = None,
) -> signed_requests.Paid:
    """Record an agent's payment exactly once (see the module docstring); ValidationError naming every bad
    field otherwise, nothing written. The answer is built from the stored payment: a retry gets the same."""
    errors: dict[str, list[str]] = {}
    at = None
    try:
        at = parse_paid_at(paid_at, now or timezone.now())
    except ValidationError as exc:
        errors.update(exc.message_dict)
    paid = signed_requests.signed_payment(
        channel=agent.kind,
        caller=agent,
        txn=transaction_id,
        txn_field="transaction_id",
        txn_label=_("代收流水号"),
        account_number=account_number,
        amount=amount,
        paid_at=at,
        errors=errors,
        ip=ip,
    )
    return replace(paid, answer={**paid.answer, "channel": agent.kind, "agent": agent.code})


# ---------------------------------------------------------------- reads for staff


def agents_visible(user):
    """The agents of the user's units (reconciliation: Perm.PAYMENT_BATCH)."""
    return restrict(CollectionAgent.objects.select_related("unit"), user, Perm.PAYMENT_BATCH)


def settlement_agent(actor: Actor, channel: str, code: str) -> CollectionAgent | None:
    """The agent whose settlement file this is, for an agent channel (None for the others). Refused on
    `agent`: missing, unknown, of another kind, or outside the importing user's units (which reads as
    unknown), or an agent named for a channel that has none."""
    code = str(code or "").strip()
    if channel not in AGENT_CHANNELS:
        if code:
            raise ValidationError({"agent": [_("该渠道的对账不需要选择代收机构")]})
        return None
    if not code:
        raise ValidationError({"agent": [_("请选择代收机构")]})
    if not signed_requests.CODE_RE.fullmatch(code):  # e.g. a NUL, which PostgreSQL cannot even compare
        raise ValidationError({"agent": [_("代收机构不存在：%(c)s") % {"c": code[:20]}]})
    qs = CollectionAgent.objects.select_related("unit").filter(code=code)
    if actor.user is not None:
        qs = restrict(qs, actor.user, Perm.PAYMENT_BATCH)
    agent = qs.first()
    if agent is None:
        raise ValidationError({"agent": [_("代收机构不存在：%(c)s") % {"c": code[:20]}]})
    if agent.kind != channel:
        raise ValidationError(
            {
                "agent": [
                    _("代收机构 %(c)s 的渠道类型是%(k)s，不是%(ch)s")
                    % {
                        "c": agent.code,
                        "k": agent.get_kind_display(),
                        "ch": PaymentChannel(channel).label,
                    }
                ]
            }
        )
    return agent
