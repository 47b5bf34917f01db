"""Demo collection agents (代收机构) for `gridcare demo_channels` (`agents_part`, run after the terminals).

For the demo cashier's bureau: a collection point ``CP<bureau code>`` (代收点) and a phone bank
``PB<bureau code>`` (电话银行), registered by `agents.agent_add` with fresh key pairs whose private keys are
not kept. Their payments go through `agents.agent_payment` (what the signed API calls), dated the day before
`today` during opening hours, for accounts of the bureau that owe money:

- the collection point takes 4 payments (the amount due); the 4th is then reversed by `billing`
  (the agent cancelled it) — and its settlement file of that day, imported by `billing`, lists the 1st as
  is, the 2nd 1.00 off, leaves out the 3rd, still shows the 4th, and adds a payment of a 5th debtor we
  never received: one exception of each kind (amount differs, ours only, reversed but paid, theirs only —
  the last one can be settled by 补录);
- the phone bank takes 2 payments and its file matches them: no exception.

With fewer debtors the collection point takes what there is (and its file shows fewer kinds). Idempotent:
skipped when the collection point's code exists.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.payments.channels import agents, signatures
from gridcare.payments.choices import PaymentChannel
from gridcare.payments.ledger import services
from gridcare.payments.models import CollectionAgent, Payment
from gridcare.payments.reconciliation import services as reconciliation

if TYPE_CHECKING:  # demo_channels imports this module
    from .channels import Demo

HEADER = "agent_txn_id,account_number,amount,paid_at"
MARK = "演示："


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=reconciliation.BEIJING)


def settlement_file(rows: list[tuple[str, str, Decimal, datetime]]) -> bytes:
    """An agent's daily settlement file (GBK, as a county agent's system writes it)."""
    lines = [HEADER] + [f"{txn},{number},{amount},{at:%Y-%m-%d %H:%M:%S}" for txn, number, amount, at in rows]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def agents_part(d: Demo) -> None:
    unit = d.unit
    cp_code, pb_code = f"CP{unit.code}"[:20], f"PB{unit.code}"[:20]
    if CollectionAgent.objects.filter(code=cp_code).exists():
        d.skipped.append("agents")
        return
    system = Actor(channel=Channel.SYSTEM)
    made = {}
    for code, kind, name in (
        (cp_code, PaymentChannel.COLLECTION_POINT, f"{unit.name}邮政储蓄代收点"),
        (pb_code, PaymentChannel.PHONE_BANK, "农业银行电话银行（95599）"),
    ):
        _private, public = signatures.ed25519_key_pair()  # the demo keeps no private key
        made[kind] = agents.agent_add(
            actor=system, code=code, name=name, kind=kind, unit=unit, public_key=public
        )
    day = d.today - timedelta(days=1)
    rng = d.rng("agents")
    debtors = d.take(rng, d.debtors(), 7)
    cp, pb = debtors[:5], debtors[5:]
    paid = []
    for k, debtor in enumerate(cp[:4], start=1):
        txn = f"{day:%Y%m%d}{k:04d}"
        at = _at(day, 9 + 2 * k, rng.randint(0, 59))
        answer = agents.agent_payment(
            agent=made[PaymentChannel.COLLECTION_POINT],
            transaction_id=txn,
            account_number=debtor.account_number,
            amount=str(debtor.owed),
            paid_at=at.isoformat(),
            now=d.now,
        ).answer
        paid.append((txn, debtor.account_number, debtor.owed, at, answer["payment_id"]))
    for k, debtor in enumerate(pb, start=1):
        agents.agent_payment(
            agent=made[PaymentChannel.PHONE_BANK],
            transaction_id=f"PB{day:%Y%m%d}{k:03d}",
            account_number=debtor.account_number,
            amount=str(debtor.owed),
            paid_at=_at(day, 19, 10 * k).isoformat(),
            now=d.now,
        )
    billing = d.console("billing")
    if len(paid) >= 4:
        services.payment_reverse(
            actor=billing,
            payment=Payment.objects.get(pk=paid[3][4]),
            reason=f"{MARK}代收点撤销该笔缴费（客户当场退款）",
        )
    rows = []
    for k, (txn, number, amount, at, _pk) in enumerate(paid, start=1):
        if k == 3:
            continue  # ours only: the agent's file leaves it out
        if k == 2:
            amount = amount - 1 if amount > 1 else amount + 1  # amount differs
        rows.append((txn, number, amount, at))
    if len(cp) == 5:  # theirs only: a payment we never received, for one of our accounts (补录)
        rows.append((f"{day:%Y%m%d}0005", cp[4].account_number, cp[4].owed, _at(day, 18, 5)))
    exceptions = 0
    for kind, file_rows in (
        (PaymentChannel.COLLECTION_POINT, rows),
        (PaymentChannel.PHONE_BANK, _settled(made[PaymentChannel.PHONE_BANK], day)),
    ):
        result = reconciliation.reconcile_import(
            actor=billing,
            channel=kind,
            agent=made[kind].code,
            statement_date=day,
            data=settlement_file(file_rows),
            file_name=f"{made[kind].code}-{day:%Y%m%d}-demo.csv",  # not "demo-…": the Alipay part's mark
        )
        exceptions += result.statement.exceptions.count()
    d.counts.update(agents=len(made), agent_payments=len(paid) + len(pb), agent_exceptions=exceptions)


def _settled(agent: CollectionAgent, day: date) -> list[tuple[str, str, Decimal, datetime]]:
    """The agent's file as it would send it when everything matches: our payments of that day."""
    start = _at(day, 0, 0)
    prefix = f"{agent.code}:"
    return [
        (txn.removeprefix(prefix), number, amount, timezone.localtime(at, reconciliation.BEIJING))
        for txn, number, amount, at in Payment.objects.filter(
            channel=agent.kind,
            channel_txn_id__startswith=prefix,
            paid_at__gte=start,
            paid_at__lt=start + timedelta(days=1),
        )
        .order_by("paid_at", "pk")
        .values_list("channel_txn_id", "account__account_number", "amount", "paid_at")
    ]
