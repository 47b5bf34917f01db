"""Cashier shifts (收费班次) and the till close (日结) of the counter.

- `shift_open`: a cashier (payment.record) opens a shift at a counter with an opening cash float. At most
  one open shift per cashier (a partial unique constraint, so two clicks at once cannot open two).
- `counter_payment_record`: every counter payment (cash or card) from the counter page and `POST
  /payments` goes through here: it needs the cashier's open shift, locks it (so a close cannot slip in
  between) and links the new payment to it (`Payment.shift`), then calls `services.payment_record`. It
  stores the receipt's figures (`CounterReceipt`: cash tendered, change, what was still owed) and the
  counter form's token, so that a form submitted twice records one payment.
- `shift_close`: the cashier declares the counted cash (without the opening float) and the card total; both
  must equal the shift's posted payments per channel, or the close is refused with expected, declared and
  the difference per channel, and nothing is written.
- `daily_sheet` (日结单): one unit and one day — every shift opened that day with expected/declared/
  difference, the totals, reversals of payments of shifts already closed, and each terminal's totals.

Reversal after the close (decision): a payment of a closed shift may still be reversed by a billing clerk
(`services.payment_reverse`). The closed shift keeps the figures it balanced with; the reversal appears as
a reversal line (−amount) on the daily sheet of the day it was reversed, in the shift's unit, and the
sheet's net total includes it. A payment reversed while its shift is still open simply drops out of the
shift's expected figures.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.locks import Conflict, person, when
from gridcare.core.money import CENT, fen
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied, require_object, restrict, visible_unit_ids
from gridcare.payments.channels import public_pay
from gridcare.payments.choices import PaymentChannel, PaymentStatus, ShiftStatus
from gridcare.payments.ledger import services
from gridcare.payments.ledger import statement as selectors
from gridcare.payments.models import CashierShift, CounterReceipt, Payment, Terminal
from gridcare.payments.states import check_transition

__all__ = ["PermissionDenied"]

ZERO = Decimal("0.00")
COUNTER_CHANNELS = (PaymentChannel.COUNTER_CASH, PaymentChannel.COUNTER_CARD)


def _user(actor: Actor):
    user = actor.user
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    return user


# ---------------------------------------------------------------- writes


def shift_open(
    *, actor: Actor, counter: str, opening_float: Any, now: datetime | None = None
) -> CashierShift:
    """Open the cashier's shift. Refused when the cashier already has one open (ValidationError)."""
    user = _user(actor)
    require_object(actor, user, Perm.PAYMENT_RECORD)
    errs: dict[str, list[str]] = {}
    counter = (counter or "").strip()
    if not counter or len(counter) > 40 or "\x00" in counter:
        errs["counter"] = [_("请填写收费窗口（最多40个字）")]
    try:
        value = services.clean_amount(opening_float, "opening_float", allow_zero=True)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    if errs:
        raise ValidationError(errs)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            shift = CashierShift.objects.create(
                unit_id=user.unit_id, cashier=user, counter=counter, opening_float=value, opened_at=now
            )
            audit_record(
                actor=actor,
                action="shift.open",
                obj=shift,
                unit_id=shift.unit_id,
                changes={"counter": counter, "opening_float": str(value)},
            )
    except IntegrityError:
        raise ValidationError({"__all__": [_("您已有一个未日结的收费班次，请先日结")]}) from None
    return shift


def open_shift_of(user) -> CashierShift | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return CashierShift.objects.filter(cashier=user, status="open").first()


def counter_payment_record(
    *,
    actor: Actor,
    channel: str,
    account_number: str,
    amount: Any,
    channel_txn_id: str = "",
    tendered: Any = None,
    form_token: str = "",
    paid_at: datetime | None = None,
    now: datetime | None = None,
) -> services.Recorded:
    """A counter payment (cash or card) in the cashier's open shift; refused without one. A repeat of the
    same receipt number returns the payment already recorded (in whichever shift it was taken).

    - `tendered` (实收, cash only): blank means the exact amount; less than the amount is refused; the change
      (找零) is tendered − amount. A card payment's tendered is its amount.
    - `form_token`: the counter form's token (one per rendering). A second submit of the same form — back and
      submit again, a double click — returns the first payment (created=False) and writes nothing, whether
      it arrives later or at the same moment (the token is unique in `CounterReceipt`); the same token with
      another account, amount, method or cashier is refused.
    - `channel_txn_id`: the receipt number; blank (the counter page) numbers it from the shift:
      C + the day (yymmdd) + the shift id (6 digits) + the shift's payment count (4 digits).
    - `amount` is at most the amount due on the payment's day plus `counter_margin()` (`_check_cap`; a retry of
      a recorded receipt number is answered as before).
    - `paid_at` (default now) is the time the money was taken: inside the open shift and not after `now`
      (default the real time; the demo builders pass their clock). The page and the API pass neither.

    Every counter payment gets its `CounterReceipt` (tendered, change, what was owed after it), audited as
    `payment.counter_receipt` beside the payment's own `payment.record`."""
    user = _user(actor)
    if channel not in COUNTER_CHANNELS:
        raise ValidationError({"channel": [_("柜台只能登记柜台现金或刷卡缴费")]})
    token = (form_token or "").strip()
    if token and not TOKEN_RE.fullmatch(token):
        raise ValidationError({"form_token": [_("收费表单已失效，请重新查询户号后再收费")]})
    value, tendered_value = _amount_and_tendered(channel, amount, tendered)
    number = str(account_number or "").strip()
    if token and (first := _first_of_token(token, user, number, value, channel)) is not None:
        return services.Recorded(first, False)
    try:
        with transaction.atomic():
            shift = CashierShift.objects.select_for_update().filter(cashier=user, status="open").first()
            if shift is None:
                raise ValidationError({"__all__": [_("请先开班（没有未日结的收费班次），再收费")]})
            # Checked again under the shift's lock: a second submit that waited for the first sees it here.
            if token and (first := _first_of_token(token, user, number, value, channel)) is not None:
                return services.Recorded(first, False)
            if paid_at is not None and not (shift.opened_at <= paid_at <= (now or timezone.now())):
                raise ValidationError({"paid_at": [_("缴费时间必须在本班次开班之后，且不晚于当前时间")]})
            txn = str(channel_txn_id or "").strip() or _receipt_no(shift, paid_at or now or timezone.now())
            if not Payment.objects.filter(channel=channel, channel_txn_id=txn).exists():  # a retry: as before
                _check_cap(number, value, timezone.localdate(paid_at or now or timezone.now()))
            rec = services.payment_record(
                actor=actor,
                channel=channel,
                channel_txn_id=txn,
                account_number=number,
                amount=value,
                paid_at=paid_at,
            )
            if not rec.created:
                if token:  # a numbered receipt number already taken (by an API client): never its payment
                    raise ValidationError({"__all__": [_("收据号 %(t)s 已被占用，请重新提交") % {"t": txn}]})
                return rec
            Payment.objects.filter(pk=rec.payment.pk).update(shift=shift)
            rec.payment.shift = shift
            _receipt_create(actor, rec.payment, tendered_value, token)
    except IntegrityError:
        # The same form submitted at the same moment, and the other submit won: answer with its payment.
        first = _first_of_token(token, user, number, value, channel) if token else None
        if first is None:
            raise
        return services.Recorded(first, False)
    return rec


DEFAULT_COUNTER_MARGIN = Decimal("10000.00")


def counter_margin() -> Decimal:
    """How much more than the amount due one counter payment may be (预存上限): GRIDCARE["COUNTER_MARGIN"]."""
    return public_pay.conf_money("COUNTER_MARGIN", DEFAULT_COUNTER_MARGIN)


def _check_cap(number: str, amount: Decimal, as_of: date) -> None:
    """A sanity cap against a mistyped amount (99999999 for 99.99): at most the amount due as of `as_of` —
    principal and late fee of the account's statement (the figure the public query shows) — plus the
    counter margin. An unknown 户号 is left to `services.payment_record` to refuse."""
    from gridcare.customers.models import Account

    account = Account.objects.filter(account_number=number).first()
    if account is None:
        return
    due = selectors.statement(account, as_of).amount_due.quantize(CENT)
    margin = counter_margin()
    if amount > due + margin:
        raise ValidationError(
            {
                "amount": [
                    _("超过本次可收上限 ¥%(cap)s（应缴 ¥%(due)s + 预存上限 ¥%(margin)s）")
                    % {"cap": f"{due + margin:,.2f}", "due": f"{due:,.2f}", "margin": f"{margin:,.2f}"}
                ]
            }
        )


TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_form_token() -> str:
    """A counter form's token (unguessable, 32 characters)."""
    return secrets.token_urlsafe(24)


def _amount_and_tendered(channel: str, amount: Any, tendered: Any) -> tuple[Decimal, Decimal]:
    errs: dict[str, list[str]] = {}
    value = tendered_value = None
    try:
        value = services.clean_amount(amount)
    except ValidationError as exc:
        errs.update(exc.message_dict)
    blank = tendered is None or str(tendered).strip() == ""
    if not blank:
        try:
            tendered_value = services.clean_amount(tendered, "tendered")
        except ValidationError as exc:
            errs.update(exc.message_dict)
    if value is not None and tendered_value is not None:
        if channel != PaymentChannel.COUNTER_CASH and tendered_value != value:
            errs["tendered"] = [_("刷卡缴费的实收金额就是缴费金额，请留空")]
        elif tendered_value < value:
            errs["tendered"] = [_("实收金额不能少于缴费金额 %(a)s 元") % {"a": value}]
    if errs:
        raise ValidationError(errs)
    return value, value if blank else tendered_value


def _first_of_token(token: str, user, account_number: str, amount: Decimal, channel: str) -> Payment | None:
    """The payment an earlier submit of the same form recorded, if any; refused when this submit differs."""
    first = (
        CounterReceipt.objects.filter(form_token=token)
        .select_related("payment__account", "payment__shift")
        .first()
    )
    if first is None:
        return None
    p = first.payment
    if p.received_by_id != user.pk:
        raise ValidationError({"form_token": [_("收费表单已失效，请重新查询户号后再收费")]})
    if (p.account.account_number, p.amount, p.channel) != (account_number, amount, channel):
        raise ValidationError(
            {
                "__all__": [
                    _(
                        "此收费表单已提交过（收据号 %(no)s：户号 %(n)s，%(a)s 元），本次提交的户号、金额或收费方式"
                        "与之不同，未登记。如需再收一笔，请重新查询户号。"
                    )
                    % {"no": p.channel_txn_id, "n": p.account.account_number, "a": p.amount}
                ]
            }
        )
    return p


def _receipt_no(shift: CashierShift, when: datetime) -> str:
    """C + yymmdd + shift id + the shift's payment count (the caller holds the shift's lock)."""
    n = Payment.objects.filter(shift=shift).count() + 1
    return f"C{timezone.localtime(when):%y%m%d}{shift.pk:06d}{n:04d}"


def _receipt_create(actor: Actor, payment: Payment, tendered: Decimal, token: str) -> CounterReceipt:
    """The receipt's figures, as of the moment after the payment (inside its transaction)."""
    owed = selectors.statement(payment.account, timezone.localdate(payment.paid_at)).amount_due
    receipt = CounterReceipt.objects.create(
        payment=payment,
        form_token=token or None,
        tendered=tendered,
        change=tendered - payment.amount,
        owed_after=owed,
        to_credit=payment.unallocated,
        created_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="payment.counter_receipt",
        obj=payment,
        unit_id=payment.unit_id,
        customer_id=payment.account.customer_id,
        changes={
            "receipt_no": payment.channel_txn_id,
            "tendered": str(receipt.tendered),
            "change": str(receipt.change),
            "owed_after": str(owed),
            "form_token": token,
        },
    )
    return receipt


@dataclass(frozen=True)
class Totals:
    cash: Decimal = ZERO
    card: Decimal = ZERO
    count: int = 0

    @property
    def total(self) -> Decimal:
        return self.cash + self.card


def shift_totals(shift_ids: list[int]) -> dict[int, Totals]:
    """Posted payments per shift and channel (one query). Reversed payments do not count."""
    rows = (
        Payment.objects.filter(shift_id__in=shift_ids, status=PaymentStatus.POSTED)
        .values("shift_id", "channel")
        .annotate(s=Sum("amount"), n=Count("id"))
    )
    acc: dict[int, dict[str, Any]] = {}
    for r in rows:
        d = acc.setdefault(r["shift_id"], {"cash": ZERO, "card": ZERO, "count": 0})
        d["cash" if r["channel"] == PaymentChannel.COUNTER_CASH else "card"] += fen(r["s"])
        d["count"] += r["n"]
    return {sid: Totals(**acc[sid]) if sid in acc else Totals() for sid in shift_ids}


def shift_close(
    *, actor: Actor, shift: CashierShift, declared_cash: Any, declared_card: Any, now: datetime | None = None
) -> CashierShift:
    """Till close (日结) of the cashier's own open shift.

    Expected per channel = the shift's payments still posted at the close; a payment of the shift that
    was reversed before the close does not count (its money went back). The declared cash is what was
    counted in the drawer minus the opening float. When cash or card does not balance the close is
    refused (ValidationError naming each channel's expected, declared and difference) and nothing is
    written; a balanced close records the figures, closes the shift and audits. A shift already closed (two
    closes at the same moment: the second waits on the row lock) is a Conflict (409) saying when and by whom."""
    user = _user(actor)
    require_object(actor, shift, Perm.PAYMENT_RECORD)
    errs: dict[str, list[str]] = {}
    values = {}
    for name, raw in (("declared_cash", declared_cash), ("declared_card", declared_card)):
        try:
            values[name] = services.clean_amount(raw, name, allow_zero=True)
        except ValidationError as exc:
            errs.update(exc.message_dict)
    if errs:
        raise ValidationError(errs)
    with transaction.atomic():
        shift = CashierShift.objects.select_for_update().get(pk=shift.pk)
        if shift.cashier_id != user.pk:
            raise PermissionDenied
        if shift.status != "open":  # closed meanwhile (a second close waits on the row lock, then lands here)
            raise Conflict(
                _("该班次已于%(t)s由%(who)s日结，不能再次日结")
                % {"t": when(shift.closed_at), "who": person(shift.cashier)},
                holder=shift,
            )
        t = shift_totals([shift.pk])[shift.pk]
        for name, label, expected in (
            ("declared_cash", _("现金"), t.cash),
            ("declared_card", _("刷卡"), t.card),
        ):
            declared = values[name]
            if declared != expected:
                errs[name] = [
                    _("%(c)s不平：应收 %(e)s 元，申报 %(d)s 元，差额 %(x)s 元")
                    % {"c": label, "e": expected, "d": declared, "x": declared - expected}
                ]
        if errs:
            raise ValidationError(errs)
        check_transition(CashierShift, shift.status, ShiftStatus.CLOSED)
        shift.status, shift.closed_at = ShiftStatus.CLOSED, now or timezone.now()
        shift.expected_cash, shift.expected_card, shift.payments_count = t.cash, t.card, t.count
        shift.declared_cash, shift.declared_card = values["declared_cash"], values["declared_card"]
        shift.save()
        audit_record(
            actor=actor,
            action="shift.close",
            obj=shift,
            unit_id=shift.unit_id,
            changes={
                "expected_cash": str(t.cash),
                "expected_card": str(t.card),
                "count": t.count,
                "declared_cash": str(shift.declared_cash),
                "declared_card": str(shift.declared_card),
            },
        )
    return shift


# ---------------------------------------------------------------- reads


def payment_of_token(token: str) -> Payment | None:
    """The payment a counter form's token already recorded, if any."""
    if not token:
        return None
    used = CounterReceipt.objects.filter(form_token=token).select_related("payment").first()
    return used.payment if used else None


def shifts_visible(*, user):
    """A supervisor (stats.view) sees every shift of their units; a cashier only their own."""
    qs = CashierShift.objects.select_related("cashier", "unit")
    if has_perm(user, Perm.STATS_VIEW):
        return restrict(qs, user, Perm.STATS_VIEW)
    return restrict(qs.filter(cashier=user), user, Perm.PAYMENT_RECORD)


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


@dataclass
class SheetShift:
    shift: CashierShift
    expected_cash: Decimal
    expected_card: Decimal
    count: int
    declared_cash: Decimal | None
    declared_card: Decimal | None

    @property
    def diff_cash(self) -> Decimal | None:
        return None if self.declared_cash is None else self.declared_cash - self.expected_cash

    @property
    def diff_card(self) -> Decimal | None:
        return None if self.declared_card is None else self.declared_card - self.expected_card


@dataclass
class SheetReversal:
    payment: Payment
    amount: Decimal  # negative


@dataclass
class SheetTerminal:
    terminal: Terminal
    count: int
    amount: Decimal


@dataclass
class DailySheet:
    unit: Any
    day: date
    shifts: list[SheetShift] = field(default_factory=list)
    reversals: list[SheetReversal] = field(default_factory=list)
    terminals: list[SheetTerminal] = field(default_factory=list)

    def _sum(self, attr: str) -> Decimal:
        return sum((getattr(s, attr) or ZERO for s in self.shifts), ZERO)

    @property
    def expected_cash(self) -> Decimal:
        return self._sum("expected_cash")

    @property
    def expected_card(self) -> Decimal:
        return self._sum("expected_card")

    @property
    def declared_cash(self) -> Decimal:
        return self._sum("declared_cash")

    @property
    def declared_card(self) -> Decimal:
        return self._sum("declared_card")

    @property
    def count(self) -> int:
        return sum(s.count for s in self.shifts)

    @property
    def reversal_total(self) -> Decimal:
        return sum((r.amount for r in self.reversals), ZERO)

    @property
    def terminal_total(self) -> Decimal:
        return sum((t.amount for t in self.terminals), ZERO)

    @property
    def net_total(self) -> Decimal:
        """Counter money of the day after later reversals, plus the terminals."""
        return self.expected_cash + self.expected_card + self.reversal_total + self.terminal_total

    @property
    def open_shifts(self) -> int:
        return sum(1 for s in self.shifts if s.shift.status == "open")


def daily_sheet(*, user, unit, day: date) -> DailySheet:
    """日结单 of `unit` (and the units below it) for a local day, as the user may see it: the shifts opened
    that day (closed ones with the figures they balanced with, open ones with what they hold so far),
    reversals made that day of payments of shifts closed before, and each terminal's posted payments of
    the day (supervisors only). A fixed number of queries whatever the number of shifts."""
    start, end = _day_range(day)
    subtree = set(_subtree(unit))
    units = [u for u in visible_unit_ids(user) if u in subtree]
    shifts = list(
        shifts_visible(user=user)
        .filter(unit_id__in=units, opened_at__gte=start, opened_at__lt=end)
        .order_by("opened_at", "id")
    )
    open_ids = [s.pk for s in shifts if s.status == "open"]
    live = shift_totals(open_ids) if open_ids else {}
    sheet = DailySheet(unit=unit, day=day)
    for s in shifts:
        if s.status == "open":
            t = live[s.pk]
            sheet.shifts.append(SheetShift(s, t.cash, t.card, t.count, None, None))
        else:
            sheet.shifts.append(
                SheetShift(
                    s, s.expected_cash, s.expected_card, s.payments_count, s.declared_cash, s.declared_card
                )
            )
    visible_shifts = shifts_visible(user=user).filter(unit_id__in=units)
    reversed_rows = (
        Payment.objects.filter(
            status=PaymentStatus.REVERSED,
            reversed_at__gte=start,
            reversed_at__lt=end,
            shift__in=visible_shifts,
            shift__status="closed",
            shift__closed_at__lte=F("reversed_at"),
        )
        .select_related("shift__cashier", "account")
        .order_by("reversed_at", "id")
    )
    sheet.reversals = [SheetReversal(p, -p.amount) for p in reversed_rows]
    if has_perm(user, Perm.STATS_VIEW):
        terminals = list(Terminal.objects.filter(unit_id__in=units).order_by("code"))
        if terminals:
            prefix_q = Q()
            for t in terminals:
                prefix_q |= Q(channel_txn_id__startswith=f"{t.code}:")
            sums: dict[str, list] = {t.code: [0, ZERO] for t in terminals}
            for txn, amount in Payment.objects.filter(
                prefix_q,
                channel=PaymentChannel.TERMINAL,
                status=PaymentStatus.POSTED,
                paid_at__gte=start,
                paid_at__lt=end,
            ).values_list("channel_txn_id", "amount"):
                acc = sums[txn.split(":", 1)[0]]
                acc[0] += 1
                acc[1] += amount
            sheet.terminals = [SheetTerminal(t, *sums[t.code]) for t in terminals]
    return sheet


def _subtree(unit) -> list[int]:
    from gridcare.org.models import SupplyUnit

    return list(SupplyUnit.objects.filter(path__startswith=unit.path).values_list("id", flat=True))
