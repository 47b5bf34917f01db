"""Demo data for the payments pages that the rest of the demo leaves empty (`gridcare demo_channels`), run
after `demo_collections`.

Everything is written through the services a real user's action goes through (each audits), by the demo
logins of the demo cashier's bureau (城区供电局: `cashier`, `billing`, and the company `manager`), the
station counter clerks (`clerk<station code>`), or the system/job actor:

1. Counter (收费班次): for the last 4 working days (`core.workdays`: public holidays skipped, 调休 weekends
   worked) one or two shifts a day of `cashier`, opened and closed on their day (`counter.shift_open` /
   `shift_close`, declared = expected), with 2–3 counter payments each (`counter.counter_payment_record`)
   for accounts that owe money: cash or card, the amount due; the first two cash payments are rounded up to
   the next 100 yuan and some others to the next 10 (the rest stays as credit — what the refunds use).
   Today's shift is opened at 08:30 and stays open.
2. Terminals (自助缴费终端): one per bureau, code ``T<bureau code>`` (`terminals.terminal_add`, a fresh key
   pair whose private key is not kept), and 2 payments each through `terminals.terminal_payment` for
   accounts of the bureau that owe money.
3. Bank withholding (银行代扣): 12 agreements for accounts that owe money (ICBC, 102) and 24 for accounts
   with nothing overdue (various banks) — in a small county at most a third of the debtors (at least 2) and
   half of the others; Luhn-valid card numbers drawn from the seed, holder = the customer's name. One ICBC
   batch as of yesterday is exported and its result file imported: everything debited (0000) but two items
   (余额不足, 账户已冻结).
4. Reconciliation (对账): the Alipay statement of the latest day (within 62 days) with at least 8 Alipay
   payments of the bureau, else of the day with the most (at least 3), built from all our Alipay payments of
   that day, one of the bureau's rows left out, one amount changed and one unknown row added, imported by
   `billing` → one exception of each kind and the other rows matched. A small county early in the month
   may have no such day: then yesterday gets the few Alipay prepayments (预存, 50–200 yuan, accounts of the
   bureau with nothing overdue that no part used) that make it three.
5. Refunds (退费): of the whole credit of two accounts of the bureau (at least 5 yuan each when there are
   two such), requested by `cashier`: one approved by `manager`, one pending.
6. Late-fee waivers (违约金减免): of the whole late fee (at least 5 yuan when possible) of two overdue bills
   of the bureau, requested by `billing`: one approved by `manager`, one pending.
7. Prepaid (智能交费): 2 % of the active residential accounts with nothing overdue are enrolled by their
   station's counter clerk and top up by WeChat (`services.payment_record`, as `demo_payments` records its
   WeChat payments; the top-up pays a bill not due yet first): three in four enough for 2–4 months, one in
   four (and the first) only a few yuan past the spend since the last bill, so the low-balance alert is
   raised. Then `prepaid_estimate_run` for today.
8. A New Year greeting (节日问候) to the company's households, created by `manager` for the next 1 January
   09:00 after now and left to launch.

The parts run in the order 6, 3, 1, 2, 4, 5, 7, 8 (overdue bills with a late fee are the scarcest in a small
county, then the debtors the withholding batch needs; the refunds need the counter's credit), and an account
one part used is left to the others.

Reproducible from the seed (each part draws from its own stream), quick (candidates are read set-based), and
idempotent by stable keys: a part is skipped when its demo objects exist (counter receipts ``DEMO-CTR-…``,
terminal codes, any withholding agreement, a statement file ``demo-…``, refunds and waivers whose reason
starts with ``演示：``, any prepaid enrolment, today's estimates). Each part runs in its own transaction.

Clock: `demo_channels(seed=…, today=…)` (`gridcare demo_channels --today YYYY-MM-DD`, default the real date;
see core.clock) builds everything as of that day: "now" is that day's DEMO_HOUR, every service gets that clock
(`now=` / `on=` / `today=` / `paid_at=`). The counter payments of the past days' shifts are dated inside their
shifts; terminal payments are today's, before now.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from gridcare.billing.choices import BillStatus
from gridcare.billing.models import Bill
from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.clock import demo_clock
from gridcare.core.permissions import Role
from gridcare.core.workdays import working_days_before
from gridcare.customers.choices import AccountStatus, CustomerClass
from gridcare.customers.models import Account
from gridcare.org.choices import UnitLevel
from gridcare.org.models import ServiceHall, SupplyUnit, User
from gridcare.payments.channels import terminals, withholding
from gridcare.payments.choices import PaymentChannel, PaymentStatus, RefundMethod
from gridcare.payments.counter import services as counter
from gridcare.payments.ledger import refunds, services
from gridcare.payments.models import (
    FeeWaiver,
    Payment,
    PrepaidAccount,
    PrepaidEstimate,
    Receivable,
    Refund,
    StatementImport,
    Terminal,
    WithholdingAgreement,
)
from gridcare.payments.prepaid import services as prepaid
from gridcare.payments.reconciliation import services as reconciliation

from .agents import agents_part  # collection agents (代收点, 电话银行): their own module

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MARK = "演示："
COUNTER_PREFIX = "DEMO-CTR-"
STATEMENT_PREFIX = "demo-"
STAFF = ("cashier", "billing", "manager")  # demo logins (customers.demo.DEMO_STAFF)

WORKING_DAYS = 4
WITHHOLDING_DEBTORS, WITHHOLDING_OTHERS = 12, 24
WITHHOLDING_BANK = "102"
# Card BIN per bank (19-digit debit cards: BIN + 12 digits + Luhn check digit).
CARD_BIN = {"102": "622202", "103": "622848", "104": "621661", "105": "621700", "403": "621799"}
BANK_FAILURES = (("3001", "余额不足"), ("3012", "账户已冻结"))
PREPAID_SHARE = Decimal("0.02")


def luhn_complete(body: str) -> str:
    """`body` followed by its Luhn check digit."""
    return next(body + d for d in "0123456789" if withholding.luhn_ok(body + d))


def card_number(rng: random.Random, bank_code: str) -> str:
    return luhn_complete(CARD_BIN[bank_code] + f"{rng.randrange(10**12):012d}")


def round_up(amount: Decimal, step: int = 10) -> Decimal:
    """The next multiple of `step` yuan strictly above `amount` (87.30 → 90.00, 90.00 → 100.00)."""
    return (
        (amount / step).to_integral_value(ROUND_CEILING) * step + (step if amount % step == 0 else 0)
    ).quantize(CENT)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def _subtree(unit: SupplyUnit) -> list[int]:
    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("pk", flat=True))


def _open_receivables():
    return Receivable.objects.open()


@dataclass(frozen=True)
class Debtor:
    account_number: str
    account_id: int
    owed: Decimal  # amount due today: open principal and late fee, accrued up to today


@dataclass
class Demo:
    seed: int
    now: datetime
    today: date
    unit: SupplyUnit  # the demo cashier's bureau
    unit_ids: list[int]
    users: dict[str, User]
    used: set[int] = field(default_factory=set)  # accounts a part already used this run
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}:{part}")

    def console(self, username: str) -> Actor:
        return Actor(user=self.users[username], channel=Channel.CONSOLE)

    def debtors(self, unit_ids: list[int] | None = None) -> list[Debtor]:
        """Active accounts of the units that owe money today and no part used yet, by 户号."""
        ids = (
            set(
                _open_receivables()
                .filter(unit_id__in=unit_ids or self.unit_ids)
                .values_list("account_id", flat=True)
                .distinct()
            )
            - self.used
        )
        due = withholding.amounts_due(sorted(ids), self.today)
        numbers = dict(
            Account.objects.filter(pk__in=sorted(due), status=AccountStatus.ACTIVE).values_list(
                "pk", "account_number"
            )
        )
        return sorted(
            (
                Debtor(numbers[a], a, owed.quantize(CENT))
                for a, owed in due.items()
                if owed > 0 and a in numbers
            ),
            key=lambda d: d.account_number,
        )

    def take(self, rng: random.Random, pool: list, n: int) -> list:
        picked = rng.sample(pool, min(n, len(pool)))
        self.used.update(p.account_id for p in picked)
        return picked


def demo_channels(*, seed: int, today: date | None = None) -> Demo:
    """Write the demo data of the module docstring as of `today` (default the real date); the counts of what
    this run wrote are in `.counts`."""
    users = {
        u.username: u for u in User.objects.filter(username__in=STAFF, is_active=True).select_related("unit")
    }
    missing = [name for name in STAFF if name not in users]
    if missing:
        raise ValueError(f"demo logins missing ({', '.join(missing)}): run `gridcare seed` first")
    today, now = demo_clock(today)
    unit = users["cashier"].unit
    d = Demo(seed=seed, now=now, today=today, unit=unit, unit_ids=_subtree(unit), users=users)
    for part in (
        waivers_part,  # first: overdue bills with a late fee are the scarcest in a small demo
        withholding_part,  # a third of the debtors at most: the counter and the terminals need them too
        counter_part,
        terminal_part,
        reconciliation_part,
        agents_part,  # after the Alipay statement, which needs the bureau's accounts with nothing overdue
        refunds_part,  # after the counter, whose rounded-up cash payments leave the credit
        prepaid_part,
        campaign_part,
    ):
        with transaction.atomic():
            part(d)
    return d


# ---------------------------------------------------------------- 1. counter shifts


def working_days(today: date, n: int) -> list[date]:
    """The n working days before `today` (public holidays skipped, 调休 weekends worked), oldest first."""
    return working_days_before(today, n)


def counter_part(d: Demo) -> None:
    if Payment.objects.filter(channel_txn_id__startswith=COUNTER_PREFIX).exists():
        d.skipped.append("counter")
        return
    cashier = d.users["cashier"]
    if counter.open_shift_of(cashier) is not None:
        d.skipped.append("counter (the cashier has an open shift)")
        return
    rng = d.rng("counter")
    hall = ServiceHall.objects.filter(unit=d.unit).order_by("code").first()
    label = f"{hall.name if hall else d.unit.name} 3号窗口"[:40]
    # (opened, closed or None, payments)
    shifts: list[tuple[datetime, datetime | None, int]] = []
    for day in working_days(d.today, WORKING_DAYS):
        if rng.random() < 0.5:
            shifts.append((_local(day, 8, 30), _local(day, 17, 30), rng.randint(2, 3)))
        else:
            shifts.append((_local(day, 8, 30), _local(day, 12), rng.randint(2, 3)))
            shifts.append((_local(day, 13, 30), _local(day, 17, 30), rng.randint(2, 3)))
    shifts.append((min(_local(d.today, 8, 30), d.now), None, rng.randint(2, 3)))
    debtors = d.debtors()  # at most half of them in a small county: the other parts need some too
    pool = d.take(rng, debtors, min(sum(n for _o, _c, n in shifts), max(2, len(debtors) // 2)))
    # Too few: today's running shift is served first, then the past days in order.
    today_n = min(shifts[-1][2], len(pool))
    left = len(pool) - today_n
    for i, (opened, closes, n) in enumerate(shifts[:-1]):
        shifts[i] = (opened, closes, min(n, left))
        left -= shifts[i][2]
    shifts[-1] = (shifts[-1][0], None, today_n)
    pool = pool[today_n:] + pool[:today_n]
    actor = d.console("cashier")
    made = closed = rounded = 0
    for opened, closes, n in shifts:
        shift = counter.shift_open(actor=actor, counter=label, opening_float="500.00", now=opened)
        for debtor in pool[:n]:
            made += 1
            cash = rng.random() < 0.7
            amount = debtor.owed
            if cash and rounded < 2:  # "keep the rest as credit": what the refunds use
                amount, rounded = round_up(amount, 100), rounded + 1
            elif cash and rng.random() < 0.4:
                amount = round_up(amount, 10)
            counter.counter_payment_record(
                actor=actor,
                channel=PaymentChannel.COUNTER_CASH if cash else PaymentChannel.COUNTER_CARD,
                channel_txn_id=f"{COUNTER_PREFIX}{timezone.localdate(opened):%Y%m%d}-{made:03d}",
                account_number=debtor.account_number,
                amount=amount,
                # Taken during the shift: minutes after it opened, one after the other.
                paid_at=min(opened + timedelta(minutes=7 * made % 180 + 5), d.now),
                now=d.now,
            )
        pool = pool[n:]
        if closes is not None:
            t = counter.shift_totals([shift.pk])[shift.pk]
            counter.shift_close(
                actor=actor, shift=shift, declared_cash=t.cash, declared_card=t.card, now=closes
            )
            closed += 1
    d.counts.update(shifts_closed=closed, shifts_open=len(shifts) - closed, counter_payments=made)


# ---------------------------------------------------------------- 2. terminals


def terminal_part(d: Demo) -> None:
    made = payments = 0
    for bureau in SupplyUnit.objects.filter(level=UnitLevel.BUREAU).order_by("path"):
        code = f"T{bureau.code}"[:20]
        if Terminal.objects.filter(code=code).exists():
            continue
        hall = ServiceHall.objects.filter(unit=bureau).order_by("code").first()
        _private, public = terminals.generate_key_pair()  # the demo keeps no private key
        terminal = terminals.terminal_add(
            actor=Actor(channel=Channel.SYSTEM),
            code=code,
            unit=bureau,
            public_key=public,
            name=f"{hall.name if hall else bureau.name}自助缴费终端",
        )
        made += 1
        rng = d.rng(f"terminal:{bureau.code}")
        for k, debtor in enumerate(d.take(rng, d.debtors(_subtree(bureau)), 2), start=1):
            terminals.terminal_payment(
                terminal=terminal,
                account_number=debtor.account_number,
                amount=str(debtor.owed),
                terminal_txn_id=f"DEMO{d.today:%Y%m%d}{k:04d}",
                now=d.now - timedelta(minutes=41 * k),  # this afternoon, before now
            )
            payments += 1
    if not made:
        d.skipped.append("terminals")
    d.counts.update(terminals=made, terminal_payments=payments)


# ---------------------------------------------------------------- 3. bank withholding


def _not_overdue(d: Demo, unit_ids: list[int], **filters) -> list[tuple[int, str]]:
    """(id, 户号) of active accounts of the units with no overdue bill (a bill not due yet is fine), not used
    yet, by 户号."""
    owing = set(
        _open_receivables()
        .filter(unit_id__in=unit_ids, due_date__lt=d.today)
        .values_list("account_id", flat=True)
    )
    rows = (
        Account.objects.filter(unit_id__in=unit_ids, status=AccountStatus.ACTIVE, **filters)
        .order_by("account_number")
        .values_list("pk", "account_number")
    )
    return [(pk, number) for pk, number in rows if pk not in owing and pk not in d.used]


def withholding_part(d: Demo) -> None:
    if WithholdingAgreement.objects.exists():
        d.skipped.append("withholding")
        return
    rng = d.rng("withholding")
    actor = d.console("billing")
    owing = d.debtors()
    debtors = d.take(rng, owing, min(WITHHOLDING_DEBTORS, max(2, len(owing) // 3)))
    others = _not_overdue(d, d.unit_ids)
    others = sorted(rng.sample(others, min(WITHHOLDING_OTHERS, max(2, len(others) // 2))), key=lambda o: o[1])
    d.used.update(pk for pk, _n in others)
    names = dict(
        Account.objects.filter(
            pk__in=[x.account_id for x in debtors] + [pk for pk, _n in others]
        ).values_list("pk", "customer__name")
    )
    plan = [(x.account_id, x.account_number, WITHHOLDING_BANK) for x in debtors]
    plan += [(pk, number, rng.choice(sorted(CARD_BIN))) for pk, number in others]
    agreements = 0
    for account_id, number, bank in sorted(plan, key=lambda p: p[1]):
        try:
            withholding.agreement_create(
                actor=actor,
                account_number=number,
                bank_code=bank,
                bank_account=card_number(rng, bank),
                holder_name=names[account_id],
                signed_on=d.today - timedelta(days=rng.randint(30, 700)),
            )
        except ValidationError:
            continue  # a holder name the bank file cannot carry: that customer signs no agreement
        agreements += 1
    d.counts["agreements"] = agreements
    try:
        batch = withholding.withholding_export(
            actor=actor, bank_code=WITHHOLDING_BANK, as_of=d.today - timedelta(days=1), now=d.now
        )
    except ValidationError:
        d.skipped.append("withholding batch (nothing due)")
        return
    items = list(batch.items.order_by("serial").values_list("serial", "account__account_number", "amount"))
    n_failed = 2 if len(items) >= 5 else (1 if len(items) >= 2 else 0)
    failed = dict(zip(sorted(rng.sample([s for s, _n, _a in items], n_failed)), BANK_FAILURES, strict=False))
    lines = [f"{batch.batch_no},{batch.item_count},{batch.total}"]
    for serial, number, amount in items:
        code, message = failed.get(serial, (withholding.DEBITED, ""))
        lines.append(f"{serial},{number},{amount},{code}" + (f",{message}" if message else ""))
    result = withholding.withholding_import(
        actor=actor, data=("\r\n".join(lines) + "\r\n").encode("gbk"), now=d.now
    )
    d.counts.update(withheld=result.debited, withholding_failed=result.failed)


# ---------------------------------------------------------------- 4. reconciliation


STATEMENT_MIN = 3  # a row left out, a row changed, and at least one that matches


def alipay_days(d: Demo) -> dict[date, int]:
    """Posted Alipay payments of the bureau per day, the 62 days before today."""
    per_day: dict[date, int] = {}
    for paid_at in Payment.objects.filter(
        channel=PaymentChannel.ALIPAY,
        status=PaymentStatus.POSTED,
        unit_id__in=d.unit_ids,
        paid_at__gte=_local(d.today - timedelta(days=62), 0),
        paid_at__lt=_local(d.today, 0),
    ).values_list("paid_at", flat=True):
        day = timezone.localdate(paid_at, reconciliation.BEIJING)
        per_day[day] = per_day.get(day, 0) + 1
    return per_day


def statement_day(d: Demo) -> date | None:
    """The latest day before today (within 62 days) with at least 8 Alipay payments of the bureau, else the
    day with the most (at least STATEMENT_MIN; the latest of those)."""
    per_day = alipay_days(d)
    busy = [day for day, n in per_day.items() if n >= 8]
    if busy:
        return max(busy)
    best = max(per_day.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    return best[0] if best and best[1] >= STATEMENT_MIN else None


def alipay_prepayments(d: Demo, rng: random.Random) -> date | None:
    """Yesterday's Alipay prepayments (预存), as many as make yesterday's Alipay payments of the bureau
    STATEMENT_MIN, by accounts of the bureau with nothing overdue that no part used; yesterday, or None
    without enough such accounts."""
    day = d.today - timedelta(days=1)
    missing = STATEMENT_MIN - alipay_days(d).get(day, 0)
    # Accounts with nothing overdue: a prepayment pays at most a bill not due yet (a debtor's would pay part
    # of its arrears, and `demo_payments` run again would find its opening balance changed).
    candidates = _not_overdue(d, d.unit_ids)
    if len(candidates) < missing:
        return None
    for pk, number in sorted(rng.sample(candidates, missing), key=lambda c: c[1]):
        services.payment_record(
            actor=Actor(channel=Channel.JOB),
            channel=PaymentChannel.ALIPAY,
            channel_txn_id=f"{day:%Y%m%d}22001{rng.randrange(10**15):015d}",
            account_number=number,
            amount=Decimal(rng.randint(5, 20) * 10).quantize(CENT),
            paid_at=_local(day, rng.randint(8, 21), rng.randint(0, 59)),
        )
        d.used.add(pk)
    d.counts["alipay_prepayments"] = missing
    return day


def alipay_statement(d: Demo, day: date, rng: random.Random) -> bytes:
    """Alipay's bill of `day` as it would send it: all our Alipay payments of the day (every unit), less one
    of the bureau's, one of the bureau's with another amount, plus one we do not know."""
    start = _local(day, 0)
    rows = list(
        Payment.objects.filter(
            channel=PaymentChannel.ALIPAY,
            status=PaymentStatus.POSTED,
            paid_at__gte=start,
            paid_at__lt=start + timedelta(days=1),
        )
        .order_by("paid_at", "pk")
        .values_list("channel_txn_id", "amount", "paid_at", "unit_id")
    )
    units = set(d.unit_ids)
    ours = [r[0] for r in rows if r[3] in units]
    left_out, changed = rng.sample(ours, 2)
    lines = [
        "#支付宝交易记录明细查询",
        f"#账务日期：{day:%Y-%m-%d}",
        "支付宝交易号,商户订单号,商品名称,金额(元),交易时间",
    ]
    total = ZERO
    for txn, amount, paid_at, _unit in rows:
        if txn == left_out:
            continue
        if txn == changed:
            amount = amount - 1 if amount > 1 else amount + 1
        total += amount
        lines.append(
            f"{txn},,电费,{amount},{timezone.localtime(paid_at, reconciliation.BEIJING):%Y-%m-%d %H:%M:%S}"
        )
    extra = Decimal(rng.randint(3000, 30000)) / 100
    at = datetime.combine(day, time(rng.randint(8, 21), rng.randint(0, 59), rng.randint(0, 59)))
    lines.append(f"{day:%Y%m%d}22001{rng.randrange(10**15):015d},,电费,{extra},{at:%Y-%m-%d %H:%M:%S}")
    lines.append(f"#交易合计：{len(lines) - 3}笔，共{total + extra}元")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def reconciliation_part(d: Demo) -> None:
    if StatementImport.objects.filter(file_name__startswith=STATEMENT_PREFIX).exists():
        d.skipped.append("reconciliation")
        return
    rng = d.rng("reconciliation")
    day = statement_day(d) or alipay_prepayments(d, rng)
    if day is None:
        d.skipped.append("reconciliation (no day with Alipay payments)")
        return
    result = reconciliation.reconcile_import(
        actor=d.console("billing"),
        channel=PaymentChannel.ALIPAY,
        statement_date=day,
        data=alipay_statement(d, day, rng),
        file_name=f"{STATEMENT_PREFIX}alipay-{day:%Y%m%d}.csv",
        now=d.now,
    )
    d.counts["recon_exceptions"] = result.statement.exceptions.count()


# ---------------------------------------------------------------- 5. refunds


def refunds_part(d: Demo) -> None:
    if Refund.objects.filter(reason__startswith=MARK).exists():
        d.skipped.append("refunds")
        return
    enrolled = set(PrepaidAccount.objects.values_list("account_id", flat=True))
    credit = [
        (r["account__account_number"], r["account_id"], r["s"])
        for r in Payment.objects.filter(
            unit_id__in=d.unit_ids, status=PaymentStatus.POSTED, unallocated__gt=0
        )
        .values("account_id", "account__account_number")
        .annotate(s=Sum("unallocated"))
        .order_by("account__account_number")
        if r["account_id"] not in enrolled
    ]
    rng = d.rng("refunds")
    sizeable = [c for c in credit if c[2] >= 5]
    pool = sizeable if len(sizeable) >= 2 else credit
    picked = rng.sample(pool, min(2, len(pool)))
    if not picked:
        d.skipped.append("refunds (no account with credit)")
        return
    cashier = d.console("cashier")
    accounts = Account.objects.in_bulk([p[1] for p in picked])
    plans = [
        (True, RefundMethod.CASH, "柜台现金缴费时多缴，客户申请退还找零"),
        (False, RefundMethod.BANK_TRANSFER, "客户申请将预存余额退至本人银行卡"),
    ]
    for (_number, account_id, _s), (approve, method, reason) in zip(picked, plans, strict=False):
        available = refunds.credit_of(account_id) - refunds.pending_of(account_id)
        refund = refunds.refund_request(
            actor=cashier,
            account=accounts[account_id],
            amount=available,
            reason=MARK + reason,
            method=method,
            now=d.now,
        )
        if approve:
            refunds.refund_decide(
                actor=d.console("manager"),
                refund=refund,
                approve=True,
                note="核实无误，同意退费",
                now=d.now,
                on=d.today,
            )
        d.counts["refunds_approved" if approve else "refunds_pending"] = 1
    d.used.update(p[1] for p in picked)


# ---------------------------------------------------------------- 6. late-fee waivers


def waivers_part(d: Demo) -> None:
    if FeeWaiver.objects.filter(reason__startswith=MARK).exists():
        d.skipped.append("waivers")
        return
    waiting = set(FeeWaiver.objects.filter(status="pending").values_list("receivable_id", flat=True))
    best: dict[int, tuple[Receivable, Decimal]] = {}
    for r in (
        _open_receivables()
        .filter(unit_id__in=d.unit_ids, due_date__lt=d.today, principal_paid__lt=F("principal"))
        .select_related("account")
        .order_by("account__account_number", "due_date", "pk")
    ):
        if r.account_id in d.used or r.pk in waiting or r.account_id in best:
            continue
        fee = r.fee_charged - r.fee_waived - r.fee_paid + services.accrued_fee(r, d.today)
        if fee >= 1:
            best[r.account_id] = (r, fee)
    rng = d.rng("waivers")
    ranked = sorted(best.values(), key=lambda v: v[0].account.account_number)
    sizeable = [v for v in ranked if v[1] >= 5]
    pool = sizeable if len(sizeable) >= 2 else ranked
    picked = rng.sample(pool, min(2, len(pool)))
    if not picked:
        d.skipped.append("waivers (no overdue bill with a late fee)")
        return
    reasons = ["客户住院期间未能按期缴费，申请减免违约金", "银行代扣系统故障致扣款延迟，申请减免违约金"]
    for k, (r, fee) in enumerate(picked):
        waiver = services.waiver_request(
            actor=d.console("billing"),
            receivable=r,
            amount=fee.quantize(CENT),
            reason=MARK + reasons[k],
            on=d.today,
        )
        if k == 0:
            services.waiver_decide(actor=d.console("manager"), waiver=waiver, approve=True, on=d.today)
        d.counts["waivers_approved" if k == 0 else "waivers_pending"] = 1
        d.used.add(r.account_id)


# ---------------------------------------------------------------- 7. prepaid


def daily_costs(account_ids: list[int]) -> dict[int, tuple[Decimal, date]]:
    """(daily cost, last billed day) per account from its last 3 issued bills, as the estimate computes it."""
    acc: dict[int, list] = {}
    for account_id, amount, start, end in (
        Bill.objects.filter(account_id__in=account_ids, status=BillStatus.ISSUED)
        .order_by("account_id", "-period_end", "-pk")
        .values_list("account_id", "amount", "period_start", "period_end")
    ):
        a = acc.setdefault(account_id, [ZERO, 0, end, 0])
        if a[3] < prepaid.BILLS_FOR_RATE:
            a[0] += amount
            a[1] += (end - start).days + 1
            a[3] += 1
    return {k: ((v[0] / v[1]).quantize(CENT, ROUND_HALF_UP), v[2]) for k, v in acc.items() if v[1]}


def prepaid_part(d: Demo) -> None:
    if PrepaidAccount.objects.exists():
        d.skipped.append("prepaid enrolment")
    else:
        _prepaid_enrol(d)
    if PrepaidEstimate.objects.filter(estimated_on=d.today).exists():
        d.skipped.append("prepaid estimate")
        return
    run = prepaid.prepaid_estimate_run(today=d.today, actor=Actor(channel=Channel.JOB))
    d.counts.update(prepaid_estimated=run.estimated, prepaid_alerts=run.alerts_raised)


def _prepaid_enrol(d: Demo) -> None:
    every = list(SupplyUnit.objects.values_list("pk", flat=True))
    residential = {"customer__customer_class": CustomerClass.RESIDENTIAL}
    n_residential = Account.objects.filter(status=AccountStatus.ACTIVE, **residential).count()
    candidates = _not_overdue(d, every, **residential)
    rng = d.rng("prepaid")
    n = max(3, int((n_residential * PREPAID_SHARE).to_integral_value(ROUND_HALF_UP)))
    picked = sorted(rng.sample(candidates, min(n, len(candidates))), key=lambda c: c[1])
    d.used.update(pk for pk, _n in picked)
    accounts = Account.objects.in_bulk([pk for pk, _n in picked])
    costs = daily_costs([pk for pk, _n in picked])
    owed = withholding.amounts_due([pk for pk, _n in picked], d.today)  # the current bill, not due yet
    clerks = {
        u.unit_id: u
        for u in User.objects.filter(role=Role.COUNTER_CLERK, is_active=True, username__startswith="clerk")
        .exclude(username="clerk")
        .order_by("username")
    }
    job = Actor(channel=Channel.JOB)
    for i, (pk, number) in enumerate(picked):
        account = accounts[pk]
        clerk = clerks.get(account.unit_id)
        actor = Actor(user=clerk, channel=Channel.CONSOLE) if clerk else job
        low = i == 0 or rng.random() < 0.25
        day = d.today - timedelta(days=rng.randint(1, 20))
        prepaid.prepaid_enrol(
            actor=actor, account=account, threshold_days=10 if rng.random() < 0.25 else None, today=day
        )
        daily, last_billed = costs.get(pk, (None, None))
        bill = owed.get(pk, ZERO)  # the top-up pays it first
        if daily is None:
            amount = bill + (20 if low else 200)
        else:
            spend = (daily * max(0, (d.today - last_billed).days)).quantize(CENT, ROUND_HALF_UP)
            if low:  # a few yuan beyond what the estimate takes as spent: below the 50.00 threshold
                amount = (bill + spend + rng.randint(5, 30)).to_integral_value(ROUND_CEILING)
            else:  # 2–4 months ahead
                amount = round_up(bill + spend + daily * rng.randint(60, 120) + prepaid.DEFAULT_THRESHOLD)
        services.payment_record(
            actor=job,
            channel=PaymentChannel.WECHAT,
            channel_txn_id=f"DEMO-PREPAY-{number}",
            account_number=number,
            amount=Decimal(amount).quantize(CENT),
            paid_at=_local(day, rng.randint(8, 21), rng.randint(0, 59)),
        )
    d.counts["prepaid_enrolled"] = len(picked)


# ---------------------------------------------------------------- 8. a holiday greeting (notification outbox)


CAMPAIGN_NAME = "演示：元旦问候"


def next_new_year(now: datetime) -> datetime:
    """The first 1 January 09:00 (local time) after `now`: tomorrow's on 31 December, next year's on 1 January
    afternoon."""
    tz = timezone.get_current_timezone()
    this_year = datetime(timezone.localtime(now, tz).year, 1, 1, 9, tzinfo=tz)
    return this_year if this_year > now else this_year.replace(year=this_year.year + 1)


def campaign_part(d: Demo) -> None:
    """A New Year greeting to the company's households (seed 004 §3.2), created and previewed by the manager,
    scheduled for the next 1 January 09:00 and left to launch: the campaign page shows it with its recipient
    count."""
    from gridcare.notify.campaigns import campaign_create
    from gridcare.notify.models import Campaign

    if Campaign.objects.filter(name=CAMPAIGN_NAME).exists():
        d.skipped.append("campaign")
        return
    campaign_create(
        actor=d.console("manager"),
        name=CAMPAIGN_NAME,
        unit_id=d.users["manager"].unit_id,
        text="新年快乐！感谢您一年来对供电工作的支持，祝您和家人阖家幸福、用电平安。",
        scheduled_at=next_new_year(d.now),
        segment="household",
        now=d.now,
    )
    d.counts.update(campaigns=1)
