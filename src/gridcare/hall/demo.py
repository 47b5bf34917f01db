"""Demo data of the smart service hall (`gridcare demo_hall`, issue 16): every demo hall set up and three months of
queue history up to `today`'s demo hour, so the display, the counters, the reports and the staffing plan mean
something.

`demo_hall(today=, now=, seed=42)` — deterministic for the same halls, `today` and seed (`random.Random` seeded per
hall). For every `org.ServiceHall`:
- set-up: `services.hall_setup_defaults`; on the first run the counters' categories are narrowed (counters 1–2 交费
  and 发票, counter 3 业扩报装 and 变更用电, counter 4 咨询/发票/其他, the others everything; a hall of fewer than four
  counters: counter 1 交费/发票/咨询, the others everything), so every category has a counter;
- one display, one kiosk and one evaluation device per counter (`HallDevice`). Their keys are not stored: each is
  an HMAC of the device's name under the installation's SECRET_KEY (`device_key`), so the command can print the
  device URLs on every run and nothing secret is in the repository; only the key's SHA-256 is stored, as for any
  device;
- counter clerks: the hall unit's counter clerks (the customers demo's `clerk`, `clerk<station>`), topped up to one
  per counter (`hclerk<hall code>_<k>`, the demo password);
- self-service terminals: where no `payments.Terminal` stands in the hall, one (two in a hall of four counters or
  more), `DT<hall code>-<k>`, with the public key of an Ed25519 key pair generated on the spot whose private key is
  dropped (a demo terminal never signs; register a terminal of your own to post to the terminal API);
- history (only for a hall with no ticket yet, so a second run writes nothing): every open day of the last
  `DAYS` (91) up to today — arrivals by hour of day (a morning and an afternoon peak) and by day of month
  (more on days 1–5 and 25–31: people pay their bills), fewer at weekends; categories by share; sources kiosk,
  greeter (with its `GreeterTriage`, plus customers sent to self-service), portal (a remote ticket, issued before
  the holder arrives and checked in on arrival) and appointments (an `Appointment` row: on time → the priority
  line from check-in; late → a normal ticket; a few booked and never came, a few cancelled); priorities elderly
  ~8 %, VIP and disabled a few. Each hall-day's queue is **simulated**: the day's counters open (all of them on
  peak days, one fewer on other days in a large hall), each calls the next ticket it serves by the priority rule
  (`priority.sort_key`, the guard included) when free; the customer walks up (20–60 s), is served for a
  lognormal time of the category; ~2 % never come (three recalls, then 过号), ~1.5 % are transferred to another
  category and wait again keeping their place. So issued ≤ first called ≤ started ≤ finished, and waits grow at
  the peaks. `TicketEvent` rows follow every step; one `CounterSession` per clerk-day; ~60 % of finished tickets
  are rated on the counter's evaluation device (mostly 满意/非常满意, each clerk their own mix, a few 不满意 with a
  reason and a `RatingFollowUp`, open for the last fortnight, closed before);
- today: the history runs up to now; tickets issued in the last minutes before now wait (the display has
  numbers), counters are open with their current ticket, today's sessions are open;
- terminals: a `TerminalDay` per open day (online seconds within the opening hours, transactions, ID reads),
  `TerminalEvent` rows for going offline and back, faults and alerts, with `MaintenanceTask` rows (done, or open
  for what is still wrong now: the `TerminalState` says the same).
Written set-based with bulk_create in chunks; SMS muted (`notices_muted`) while the past is written."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import time as clock
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from heapq import heappop, heappush
from itertools import accumulate

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse

from gridcare.core.clock import demo_clock
from gridcare.core.permissions import Role
from gridcare.notify.outbox import notices_muted
from gridcare.org.models import ServiceHall, User
from gridcare.payments.models import Terminal

from . import priority, services
from .choices import (
    AppointmentStatus,
    CounterState,
    DeviceKind,
    FollowUpStatus,
    PriorityReason,
    Score,
    TaskStatus,
    TerminalEventKind,
    TerminalFault,
    TicketSource,
    TicketStatus,
    TicketStep,
    TriageOutcome,
)
from .devices import hash_key
from .models import (
    Appointment,
    Category,
    CounterSession,
    CounterSetup,
    GreeterTriage,
    HallDevice,
    MaintenanceTask,
    Rating,
    RatingFollowUp,
    TerminalDay,
    TerminalEvent,
    TerminalState,
    Ticket,
    TicketEvent,
    TicketSequence,
)
from .opening import CHINA, is_open_day

DAYS = 91  # today and the 90 days before: three months
PER_COUNTER_DAY = 20  # arrivals per counter on an ordinary weekday
BATCH = 2000
# Arrival weight by hour of day (08 = 08:00–09:00, cut to the opening hours).
HOUR_WEIGHTS = {8: 0.8, 9: 1.6, 10: 1.8, 11: 1.3, 12: 0.5, 13: 0.7, 14: 1.2, 15: 1.1, 16: 0.8, 17: 0.4}
# category code, share of tickets, mean service minutes
CATEGORY_MIX = (
    ("payment", 0.42, 3.5),
    ("new_connection", 0.08, 16.0),
    ("change", 0.10, 11.0),
    ("consult", 0.18, 5.0),
    ("invoice", 0.14, 3.0),
    ("other", 0.08, 8.0),
)
SOURCE_MIX = (("kiosk", 0.52), ("greeter", 0.33), ("portal", 0.10), ("appointment", 0.05))
PRIORITY_MIX = (("elderly", 0.08), ("vip", 0.012), ("disabled", 0.008))
NO_SHOW_SHARE, TRANSFER_SHARE, RATED_SHARE, SELF_SERVICE_SHARE = 0.02, 0.015, 0.6, 0.08
DISSATISFIED_REASONS = (
    "等候时间太长",
    "业务员态度冷淡",
    "办理过程反复要求补材料",
    "解释不清楚电费构成",
    "窗口中途暂停无人说明",
    "系统故障办理失败",
)
FOLLOW_UP_NOTES = (
    "已电话回访客户并致歉，客户表示理解",
    "已约谈当班营业员，纳入月度考评",
    "已向客户解释并办结",
)


def device_key(hall, kind: str, counter_number: int | None = None) -> str:
    """A demo device's key: an HMAC of its name under SECRET_KEY (never stored; its SHA-256 is)."""
    name = f"gridcare-demo-hall-device:{hall.code}:{kind}:{counter_number or 0}"
    mac = hmac.new(str(settings.SECRET_KEY).encode(), name.encode(), hashlib.sha256).digest()
    return "hd_" + base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def device_url(kind: str, key: str) -> str:
    """The device's page: its named route when the pages are there, else the device root `/hall/d/<key>/`."""
    for name in ({"evaluator": "hall:evaluate"}.get(kind, f"hall:{kind}"),):
        try:
            return reverse(name, args=[key])
        except NoReverseMatch:
            continue
    return f"/hall/d/{key}/"


def _cum(weights) -> list[float]:
    total = sum(weights)
    return [w / total for w in accumulate(weights)]


def _pick(rng: random.Random, values, cum) -> object:
    return values[min(bisect_right(cum, rng.random()), len(values) - 1)]


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10)}{rng.randrange(100_000_000):08d}"


def day_factor(day: date) -> float:
    """Arrivals of a day against an ordinary weekday: the month-start and month-end peaks, quieter weekends."""
    f = 1.0
    if day.day <= 5:
        f = 1.9 - 0.1 * (day.day - 1)  # 1.9 on the 1st down to 1.5 on the 5th
    elif day.day >= 25:
        f = 1.4 + 0.07 * (day.day - 25)
    if day.isoweekday() >= 6:
        f *= 0.6
    return f


def is_peak(day: date) -> bool:
    return day.day <= 5 or day.day >= 25


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# ---------------------------------------------------------------- the simulation of one hall-day


@dataclass
class SimTicket:
    idx: int
    category: str
    source: str
    priority: str
    issued_at: datetime
    arrive_at: datetime  # in the hall (check-in of a remote ticket); callable from then
    queue_at: datetime
    phone: str = ""
    appointment_slot: datetime | None = None
    appointment_created: datetime | None = None
    greeter: bool = False
    fate: str = "done"  # done, no_show, transfer
    transfer_to: str = ""
    # outcome
    steps: list = field(default_factory=list)  # (kind, at, counter_number, clerk_id, detail)
    first_called_at: datetime | None = None
    called_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    closed_at: datetime | None = None
    counter: int | None = None
    clerk_id: int | None = None
    status: str = TicketStatus.WAITING
    recall_count: int = 0
    transfers: int = 0
    seq: int = 0
    day: date | None = None
    number: str = ""
    first_category: str = ""


@dataclass
class SimCounter:
    number: int
    categories: frozenset[str]
    clerk_id: int
    free_at: datetime
    current: SimTicket | None = None
    last_finish: datetime | None = None
    served: int = 0


def _sim_key(t: SimTicket, now: datetime, guard: timedelta) -> tuple:
    return priority.sort_key(
        priority.QueueItem(id=t.idx, issued_at=t.issued_at, queue_at=t.queue_at, priority=bool(t.priority)),
        now=now,
        guard=guard,
    )


def simulate_day(
    rng: random.Random,
    tickets: list[SimTicket],
    counters: list[SimCounter],
    *,
    means: dict[str, float],
    guard: timedelta,
    stop_at: datetime | None,
) -> None:
    """Run the day's queue: counters call by the priority rule whenever free. `stop_at` (today's now): nothing
    happens after it; what is under way then stays so (called, serving, waiting)."""
    arrivals: list[tuple[datetime, int, SimTicket]] = []
    for t in tickets:
        heappush(arrivals, (t.arrive_at, t.idx, t))
    waiting: list[SimTicket] = []
    active = list(counters)
    while active:
        c = min(active, key=lambda k: (k.free_at, k.number))
        t_c = c.free_at
        if stop_at is not None and t_c >= stop_at:
            active.remove(c)
            continue
        if arrivals and arrivals[0][0] <= t_c:
            waiting.append(heappop(arrivals)[2])
            continue
        eligible = [w for w in waiting if w.category in c.categories]
        if not eligible:
            if not arrivals:
                active.remove(c)
            else:
                c.free_at = arrivals[0][0]
            continue
        t = min(eligible, key=lambda w: _sim_key(w, t_c, guard))
        waiting.remove(t)
        _serve(rng, t, c, t_c, means, stop_at, arrivals)


def _serve(rng, t: SimTicket, c: SimCounter, at: datetime, means, stop_at, arrivals) -> None:
    t.status, t.counter, t.clerk_id, t.called_at = TicketStatus.CALLED, c.number, c.clerk_id, at
    t.recall_count = 0
    if t.first_called_at is None:
        t.first_called_at = at
    t.steps.append((TicketStep.CALLED, at, c.number, c.clerk_id, {}))
    c.current = t

    def cut(moment: datetime) -> bool:
        return stop_at is not None and moment > stop_at

    if t.fate == "no_show":
        moment = at
        for k in range(1, 4):
            moment = moment + timedelta(seconds=rng.randint(40, 70))
            if cut(moment):
                c.free_at = moment
                return
            t.recall_count, t.called_at = k, moment
            t.steps.append((TicketStep.RECALLED, moment, c.number, c.clerk_id, {"recall": k}))
        moment += timedelta(seconds=rng.randint(30, 60))
        if cut(moment):
            c.free_at = moment
            return
        t.status, t.closed_at = TicketStatus.NO_SHOW, moment
        t.steps.append((TicketStep.NO_SHOW, moment, c.number, c.clerk_id, {"recalls": 3}))
        c.current, c.free_at = None, moment + timedelta(seconds=rng.randint(5, 20))
        return
    start = at + timedelta(seconds=rng.randint(20, 60))
    if cut(start):
        c.free_at = start
        return
    t.status, t.started_at = TicketStatus.SERVING, start
    t.steps.append((TicketStep.STARTED, start, c.number, c.clerk_id, {}))
    if t.fate == "transfer" and t.transfers == 0:
        moment = start + timedelta(seconds=rng.randint(90, 240))
        if cut(moment):
            c.free_at = moment
            return
        frm = t.category
        t.steps.append(
            (
                TicketStep.TRANSFERRED,
                moment,
                c.number,
                c.clerk_id,
                {"note": "", "from_category": frm, "to_category": t.transfer_to},
            )
        )
        t.category, t.transfers = t.transfer_to, 1
        t.status, t.counter, t.called_at, t.started_at, t.recall_count = (
            TicketStatus.WAITING,
            None,
            None,
            None,
            0,
        )
        t.clerk_id = None
        heappush(arrivals, (moment, t.idx, t))  # waits again, keeping its place (queue_at)
        c.current, c.free_at = None, moment + timedelta(seconds=rng.randint(5, 20))
        return
    mean = means[t.category]
    minutes = rng.lognormvariate(math.log(mean) - 0.18, 0.6)
    finish = start + timedelta(seconds=max(45, int(minutes * 60)))
    c.served += 1
    if cut(finish):
        c.free_at = finish
        return
    t.status, t.finished_at = TicketStatus.DONE, finish
    t.steps.append((TicketStep.FINISHED, finish, c.number, c.clerk_id, {}))
    c.current, c.last_finish = None, finish
    c.free_at = finish + timedelta(seconds=rng.randint(5, 30))


# ---------------------------------------------------------------- set-up


def _narrow_counters(hall, cats: dict[str, Category]) -> None:
    counters = list(hall.counters.order_by("number"))
    n = len(counters)
    everything = list(cats.values())
    for counter in counters:
        k = counter.number
        if n >= 4:
            codes = {
                1: ("payment", "invoice"),
                2: ("payment", "invoice"),
                3: ("new_connection", "change"),
            }.get(k, ("consult", "invoice", "other") if k == 4 else None)
        else:
            codes = ("payment", "invoice", "consult") if k == 1 and n > 1 else None
        wanted = [cats[c] for c in codes if c in cats] if codes else everything
        CounterSetup.objects.get(counter=counter).categories.set(wanted)


def _clerks(hall, rng: random.Random, counters: int) -> tuple[list[int], int]:
    from gridcare.customers.demo import DEMO_PASSWORD, FEMALE_CHARS, MALE_CHARS, SURNAMES

    ids = list(
        User.objects.filter(role=Role.COUNTER_CLERK, unit_id=hall.unit_id, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    made = 0
    k = 0
    surnames = [s for s, w in SURNAMES if w >= 5]
    password = None
    while len(ids) < counters:
        k += 1
        username = f"hclerk{hall.code.lower()}_{k}"
        if User.objects.filter(username=username).exists():
            continue
        password = password or make_password(DEMO_PASSWORD)
        chars = MALE_CHARS if rng.random() < 0.5 else FEMALE_CHARS
        user = User.objects.create(
            username=username,
            password=password,
            role=Role.COUNTER_CLERK,
            unit_id=hall.unit_id,
            display_name=rng.choice(surnames) + rng.choice(chars) + rng.choice(chars),
            phone=_phone(rng),
        )
        ids.append(user.pk)
        made += 1
    return ids, made


def _devices(hall, now: datetime) -> tuple[list[tuple[str, str, str]], int]:
    """The hall's demo devices, created where missing; [(kind, name, url)] for the command to print."""
    wanted = [(DeviceKind.DISPLAY, None, "叫号显示屏"), (DeviceKind.KIOSK, None, "自助取号机")]
    wanted += [(DeviceKind.EVALUATOR, c, f"{c.number}号窗口评价器") for c in hall.counters.order_by("number")]
    out, made = [], 0
    for kind, counter, name in wanted:
        key = device_key(hall, kind, counter.number if counter else None)
        if not HallDevice.objects.filter(key_hash=hash_key(key)).exists():
            HallDevice.objects.create(
                hall=hall, kind=kind, counter=counter, name=name, key_hash=hash_key(key), created_at=now
            )
            made += 1
        out.append((str(kind), name, device_url(str(kind), key)))
    return out, made


def _terminals(hall, now: datetime, first_day: date) -> tuple[list[Terminal], int]:
    have = list(Terminal.objects.filter(hall=hall).order_by("code"))
    if have:
        return have, 0
    wanted = 2 if hall.counters.count() >= 4 else 1
    made = []
    for k in range(1, wanted + 1):
        code = f"DT{hall.code}-{k}"[:20]
        if Terminal.objects.filter(code=code).exists():
            continue
        public = (
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        made.append(
            Terminal.objects.create(
                code=code,
                unit_id=hall.unit_id,
                hall=hall,
                name=f"{hall.name}自助缴费终端{k}",
                public_key=public,
                created_at=datetime.combine(first_day - timedelta(days=30), time(9), tzinfo=CHINA),
            )
        )
    return list(Terminal.objects.filter(hall=hall).order_by("code")), len(made)


# ---------------------------------------------------------------- one hall's history


def _bulk(model, rows: list, counts: dict, key: str) -> None:
    for i in range(0, len(rows), BATCH):
        model.objects.bulk_create(rows[i : i + BATCH])
    counts[key] = counts.get(key, 0) + len(rows)


def _hall_history(hall, *, today: date, now: datetime, seed: int, scale: float, counts: dict) -> None:
    rng = random.Random(f"{seed}:{hall.code}")
    profile = services.hall_profile(hall)
    guard = timedelta(minutes=profile.starvation_guard_minutes)
    grace = timedelta(minutes=profile.appointment_grace_minutes)
    cats = {c.code: c for c in Category.objects.filter(active=True)}
    offered = set(hall.hall_categories.values_list("category__code", flat=True))
    mix = [(code, share, mean) for code, share, mean in CATEGORY_MIX if code in offered and code in cats]
    mix += [(c, 0.05, 6.0) for c in sorted(offered - {m[0] for m in mix}) if c in cats]
    if not mix:
        return
    cat_codes = [m[0] for m in mix]
    cat_cum = _cum([m[1] for m in mix])
    means = {m[0]: m[2] for m in mix}
    src_codes, src_cum = [s for s, _w in SOURCE_MIX], _cum([w for _s, w in SOURCE_MIX])
    setups = {
        s.counter.number: s for s in CounterSetup.objects.filter(counter__hall=hall).select_related("counter")
    }
    served = {number: frozenset(s.categories.values_list("code", flat=True)) for number, s in setups.items()}
    served = {n: codes for n, codes in served.items() if codes}
    numbers = sorted(served)
    if not numbers:
        return
    clerks, made = _clerks(hall, rng, len(numbers))
    counts["clerks"] = counts.get("clerks", 0) + made
    evaluators = dict(
        HallDevice.objects.filter(hall=hall, kind=DeviceKind.EVALUATOR).values_list("counter__number", "id")
    )
    managers = list(
        User.objects.filter(role=Role.MANAGER, unit_id__in=_unit_chain(hall.unit)).values_list(
            "id", flat=True
        )
    )
    clerk_mood = {
        cid: (rng.uniform(0.38, 0.7), rng.uniform(0.2, 0.4), rng.uniform(0.005, 0.04)) for cid in clerks
    }
    closed = services.closed_days(hall, today - timedelta(days=DAYS), today)
    base = PER_COUNTER_DAY * len(numbers) * scale
    open_secs = (
        datetime.combine(today, profile.closes_at) - datetime.combine(today, profile.opens_at)
    ).seconds

    sims: list[SimTicket] = []
    seq_rows: list[tuple] = []
    sessions: list[CounterSession] = []
    appts: list[tuple[Appointment, SimTicket | None]] = []
    triage_self: list[GreeterTriage] = []
    today_counters: list[SimCounter] = []
    today_opened: dict[int, datetime] = {}
    phones_live: set[str] = set()
    appt_k = 0
    for offset in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        if not is_open_day(profile.open_weekdays, closed, day):
            continue
        is_today = day == today
        opens = datetime.combine(day, profile.opens_at, tzinfo=CHINA)
        closes = datetime.combine(day, profile.closes_at, tzinfo=CHINA)
        if is_today and now <= opens:
            continue
        stop_at = now if is_today else None
        # arrivals
        expected = base * day_factor(day)
        day_sims: list[SimTicket] = []
        last_arrival = closes - timedelta(minutes=10)
        hours = [h for h in range(opens.hour, closes.hour + 1)]
        for h in hours:
            lo = max(opens, datetime.combine(day, time(h), tzinfo=CHINA))
            hi = min(last_arrival, datetime.combine(day, time(h), tzinfo=CHINA) + timedelta(hours=1))
            if hi <= lo:
                continue
            share = HOUR_WEIGHTS.get(h, 0.5) * (hi - lo).total_seconds() / 3600
            n = _poisson(rng, expected * share / sum(HOUR_WEIGHTS.values()))
            for _ in range(n):
                at = lo + timedelta(seconds=rng.uniform(0, (hi - lo).total_seconds()))
                day_sims.append(_new_ticket(rng, at, opens, cat_codes, cat_cum, src_codes, src_cum, grace))
        if is_today:
            # A crowd came in the last minutes: the display has numbers waiting.
            if opens < now - timedelta(minutes=12) and now < closes:
                for _ in range(len(numbers) + 4):
                    at = now - timedelta(seconds=rng.uniform(10, 600))
                    day_sims.append(
                        _new_ticket(rng, at, opens, cat_codes, cat_cum, src_codes, src_cum, grace)
                    )
            day_sims = [t for t in day_sims if t.issued_at <= now and t.arrive_at <= now]
        day_sims.sort(key=lambda t: (t.issued_at, t.arrive_at))
        for i, t in enumerate(day_sims):
            t.idx = i
            if not is_today and rng.random() < NO_SHOW_SHARE:
                t.fate = "no_show"
            elif not is_today and rng.random() < TRANSFER_SHARE:
                others = [c for c in cat_codes if c != t.category]
                if others:
                    t.fate, t.transfer_to = "transfer", rng.choice(others)
            if t.source == TicketSource.PORTAL or t.source == TicketSource.APPOINTMENT:
                t.phone = _phone(rng)
                while is_today and t.phone in phones_live:
                    t.phone = _phone(rng)
                phones_live.add(t.phone)
            elif rng.random() < 0.3:
                t.phone = _phone(rng)
        # counters open today
        # Counters staffed: half the hall on ordinary days (at least two), one more on peak days, one fewer at
        # weekends (plus whatever it takes for every category to have a counter): the peaks show in the waits.
        n = len(numbers)
        n_open = n if n <= 2 else min(n, max(2, n // 2) + (1 if is_peak(day) else 0))
        if day.isoweekday() >= 6 and n > 2:
            n_open = max(2, n_open - 1)
        open_numbers = _open_counters(numbers, served, n_open, cat_codes)
        rota = (day.toordinal() // 7) % len(clerks)
        sim_counters = [
            SimCounter(
                number=num,
                categories=served[num],
                clerk_id=clerks[(i + rota) % len(clerks)],
                free_at=opens + timedelta(seconds=rng.randint(0, 240)),
            )
            for i, num in enumerate(open_numbers)
        ]
        simulate_day(rng, day_sims, sim_counters, means=means, guard=guard, stop_at=stop_at)
        for c in sim_counters:
            opened = opens - timedelta(seconds=rng.randint(0, 300))
            if is_today:
                sessions.append(
                    CounterSession(counter=setups[c.number].counter, clerk_id=c.clerk_id, opened_at=opened)
                )
                today_counters.append(c)
                today_opened[c.number] = opened
            else:
                end = max(closes, c.last_finish or closes) + timedelta(seconds=rng.randint(60, 600))
                sessions.append(
                    CounterSession(
                        counter=setups[c.number].counter,
                        clerk_id=c.clerk_id,
                        opened_at=opened,
                        closed_at=end,
                        paused_seconds=rng.choice((0, 0, 300, 600, 900, 1200)),
                    )
                )
        # numbers per category in issue order
        seqs: dict[str, int] = {}
        first_cat = {}
        for t in day_sims:
            cat0 = _first_category(t)
            first_cat[t.idx] = cat0
            seqs[cat0] = seqs.get(cat0, 0) + 1
            t.seq = seqs[cat0]
        for code, last in seqs.items():
            seq_rows.append((hall.pk, cats[code].pk, day, last))
        for t in day_sims:
            t.day, t.first_category = day, first_cat[t.idx]
            t.number = services.ticket_number(cats[t.first_category].letter, t.seq)
            sims.append(t)
            if t.appointment_slot is not None:
                appt_k += 1
                appts.append((_appointment(hall, cats[t.first_category], t, appt_k), t))
        # bookings that never came, and cancelled ones
        for _ in range(_poisson(rng, expected * 0.006)):
            appt_k += 1
            slot = _slot(opens + timedelta(seconds=rng.uniform(0, open_secs - 1800)))
            if is_today and slot > now - grace:
                continue
            no_show = rng.random() < 0.6
            a = Appointment(
                hall=hall,
                category=cats[str(_pick(rng, cat_codes, cat_cum))],
                slot_start=slot,
                phone=_phone(rng),
                code=_appt_code(hall, day, appt_k),
                status=AppointmentStatus.NO_SHOW if no_show else AppointmentStatus.CANCELLED,
                created_at=slot - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)),
            )
            if no_show:
                a.no_show_at = slot + timedelta(minutes=30)
            else:
                a.cancelled_at = slot - timedelta(hours=rng.randint(2, 30))
            appts.append((a, None))
        for _ in range(_poisson(rng, expected * SELF_SERVICE_SHARE * 0.33)):
            at = opens + timedelta(seconds=rng.uniform(0, open_secs - 600))
            if is_today and at > now:
                continue
            triage_self.append(
                GreeterTriage(
                    hall=hall,
                    at=at,
                    category=cats[rng.choice([c for c in cat_codes if cats[c].self_service] or cat_codes)],
                    outcome=TriageOutcome.SELF_SERVICE,
                    note="引导至自助终端办理",
                )
            )

    with transaction.atomic():
        _insert(TicketSequence, ("hall", "category", "day", "last"), seq_rows, counts, "sequences")
        _insert(Ticket, TICKET_FIELDS, [_ticket_row(hall, t, cats, setups) for t in sims], counts, "tickets")
        ids = {(d, n): pk for d, n, pk in Ticket.objects.filter(hall=hall).values_list("day", "number", "id")}
        tid = {id(t): ids[(t.day, t.number)] for t in sims}  # type: ignore[index]
        counter_id = {n: s.counter_id for n, s in setups.items()}
        events: list[tuple] = []
        ratings: list[tuple] = []
        triage: list[tuple] = [(hall.pk, g.at, g.category_id, g.outcome, None, g.note) for g in triage_self]
        for t in sims:
            pk = tid[id(t)]
            events.append(
                (pk, TicketStep.ISSUED, t.issued_at, None, None, {"source": t.source, "priority": t.priority})
            )
            if t.source == TicketSource.PORTAL:
                events.append((pk, TicketStep.CHECKED_IN, t.arrive_at, None, None, {}))
            for kind, at, number, clerk_id, d in t.steps:
                events.append((pk, kind, at, counter_id[number], clerk_id, d))
            if t.greeter:
                triage.append((hall.pk, t.issued_at, cats[t.first_category].pk, TriageOutcome.TICKET, pk, ""))
            if t.status == TicketStatus.DONE and rng.random() < RATED_SHARE:
                very, sat, bad = clerk_mood.get(t.clerk_id or 0, (0.55, 0.33, 0.03))
                x = rng.random()
                if x < bad:
                    score = Score.DISSATISFIED
                elif x < bad + very:
                    score = Score.VERY_SATISFIED
                elif x < bad + very + sat:
                    score = Score.SATISFIED
                else:
                    score = Score.NEUTRAL
                assert t.finished_at is not None and t.counter is not None
                rated = t.finished_at + timedelta(seconds=rng.randint(4, 40))
                if rated > now:
                    continue
                reason = rng.choice(DISSATISFIED_REASONS) if score == Score.DISSATISFIED else ""
                ratings.append(
                    (
                        pk,
                        hall.pk,
                        counter_id[t.counter],
                        t.clerk_id,
                        str(score),
                        reason,
                        rated,
                        evaluators.get(t.counter),
                    )
                )
        _insert(TicketEvent, ("ticket", "kind", "at", "counter", "actor", "detail"), events, counts, "events")
        _insert(
            GreeterTriage, ("hall", "at", "category", "outcome", "ticket", "note"), triage, counts, "triage"
        )
        for a, booked in appts:
            if booked is not None:
                a.ticket_id = tid[id(booked)]
        _bulk(Appointment, [a for a, _t in appts], counts, "appointments")
        _insert(
            Rating,
            ("ticket", "hall", "counter", "clerk", "score", "reason", "rated_at", "device"),
            ratings,
            counts,
            "ratings",
        )
        bad_ids = [r[0] for r in ratings if r[4] == Score.DISSATISFIED]
        follow = []
        for rating_id, rated in Rating.objects.filter(ticket_id__in=bad_ids).values_list("id", "rated_at"):
            fresh = now - rated < timedelta(days=14)
            follow.append(
                RatingFollowUp(
                    rating_id=rating_id,
                    status=FollowUpStatus.OPEN if fresh else FollowUpStatus.CLOSED,
                    handled_by_id=None if fresh or not managers else managers[0],
                    handled_at=None if fresh else rated + timedelta(days=rng.randint(1, 3)),
                    note="" if fresh else rng.choice(FOLLOW_UP_NOTES),
                )
            )
        _bulk(RatingFollowUp, follow, counts, "follow_ups")
        counts["follow_ups_open"] = counts.get("follow_ups_open", 0) + sum(
            f.status == FollowUpStatus.OPEN for f in follow
        )
        _bulk(CounterSession, sessions, counts, "sessions")
        # today's counters: open, with what they are doing now
        for c in today_counters:
            setup = setups[c.number]
            setup.state, setup.state_since, setup.clerk_id = (
                CounterState.OPEN,
                today_opened[c.number],
                c.clerk_id,
            )
            setup.current_id = tid[id(c.current)] if c.current is not None else None
            setup.save(update_fields=["state", "state_since", "clerk", "current"])
        counts["waiting_now"] = counts.get("waiting_now", 0) + sum(
            t.status == TicketStatus.WAITING for t in sims
        )


TICKET_FIELDS = (
    "hall", "category", "day", "seq", "number", "source", "status", "priority_reason", "issued_at", "queue_at",
    "checked_in_at", "phone", "counter", "clerk", "called_at", "recall_count", "started_at", "finished_at",
    "closed_at", "first_called_at", "call_ahead_sent", "transfers",
)  # fmt: skip


def _ticket_row(hall, t: SimTicket, cats, setups) -> tuple:
    return (
        hall.pk, cats[t.category].pk, t.day, t.seq, t.number, t.source, str(t.status), t.priority, t.issued_at,
        t.queue_at, t.arrive_at, t.phone, setups[t.counter].counter_id if t.counter else None, t.clerk_id,
        t.called_at, t.recall_count, t.started_at, t.finished_at, t.closed_at, t.first_called_at, False,
        t.transfers,
    )  # fmt: skip


def _sqlite_datetime(v: datetime) -> str:
    return str(v.astimezone(UTC).replace(tzinfo=None))


def _insert(model, fields, rows: list[tuple], counts: dict, key: str) -> None:
    """INSERT `rows` (tuples of Python values in `fields` order; foreign keys as ids) with executemany: the
    demo's millions of values without building a model instance each (Django's bulk_create spent most of the
    demo's time there)."""
    meta = model._meta
    fobjs = [meta.get_field(f) for f in fields]
    ops = connection.ops
    sqlite = connection.vendor == "sqlite"
    adapters: list = []
    for f in fobjs:
        kind = f.get_internal_type()
        if kind == "DateTimeField":
            # SQLite stores naive UTC text (what adapt_datetimefield_value makes, ten times faster here).
            adapters.append(_sqlite_datetime if sqlite else ops.adapt_datetimefield_value)
        elif kind == "DateField":
            adapters.append(ops.adapt_datefield_value)
        elif kind == "JSONField":
            adapters.append(json.dumps if sqlite else partial(f.get_db_prep_value, connection=connection))
        else:
            adapters.append(None)
    qn = ops.quote_name
    # Names from the model's meta, values bound.
    columns = ", ".join(qn(f.column) for f in fobjs)
    sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fobjs))})"  # noqa: S608
    with connection.cursor() as cur:
        for i in range(0, len(rows), 5000):
            chunk = [
                tuple(v if a is None or v is None else a(v) for a, v in zip(adapters, row, strict=True))
                for row in rows[i : i + 5000]
            ]
            cur.executemany(sql, chunk)
    counts[key] = counts.get(key, 0) + len(rows)


def _unit_chain(unit) -> list[int]:
    ids = []
    while unit is not None:
        ids.append(unit.pk)
        unit = unit.parent
    return ids


def _first_category(t: SimTicket) -> str:
    for kind, _at, _n, _c, d in t.steps:
        if kind == TicketStep.TRANSFERRED:
            return d["from_category"]
    return t.category


def _open_counters(numbers: list[int], served, n_open: int, cat_codes: list[str]) -> list[int]:
    """The first `n_open` counters, plus whatever it takes for every category to have one open."""
    chosen = numbers[:n_open]
    for code in cat_codes:
        if not any(code in served[n] for n in chosen):
            extra = next((n for n in numbers if code in served[n] and n not in chosen), None)
            if extra is not None:
                chosen.append(extra)
    return sorted(chosen)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _slot(at: datetime) -> datetime:
    return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0)


def _appt_code(hall, day: date, k: int) -> str:
    return f"DM{_base36(hall.pk):>03}{_base36(k):>04}{day:%m%d}"[:12].replace(" ", "0")


def _appointment(hall, category: Category, t: SimTicket, k: int) -> Appointment:
    slot = t.appointment_slot
    assert slot is not None and t.appointment_created is not None
    return Appointment(
        hall=hall,
        category=category,
        slot_start=slot,
        phone=t.phone,
        code=_appt_code(hall, t.issued_at.astimezone(CHINA).date(), k),
        status=AppointmentStatus.CHECKED_IN,
        created_at=t.appointment_created,
        checked_in_at=t.arrive_at,
    )


def _new_ticket(
    rng, at: datetime, opens: datetime, cat_codes, cat_cum, src_codes, src_cum, grace
) -> SimTicket:
    source = str(_pick(rng, src_codes, src_cum))
    category = str(_pick(rng, cat_codes, cat_cum))
    prio = ""
    x = rng.random()
    for reason, share in PRIORITY_MIX:
        if x < share:
            prio = reason
            break
        x -= share
    issued, queue_at = at, at
    slot = created = None
    if source == TicketSource.PORTAL:
        issued = max(opens, at - timedelta(seconds=rng.uniform(300, 2400)))
        queue_at = issued
    elif source == TicketSource.APPOINTMENT:
        slot = _slot(at + timedelta(minutes=rng.uniform(-12, 12)))
        slot = max(slot, _slot(opens))
        created = slot - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
        prio = PriorityReason.APPOINTMENT if at <= slot + grace else ""
    t = SimTicket(
        idx=0,
        category=category,
        source=source,
        priority=prio,
        issued_at=issued,
        arrive_at=at,
        queue_at=queue_at,
        appointment_slot=slot,
        appointment_created=created,
        greeter=source == TicketSource.GREETER,
    )
    return t


# ---------------------------------------------------------------- terminals


def _terminal_history(terminals, hall, *, today: date, now: datetime, seed: int, counts: dict) -> None:
    profile = services.hall_profile(hall)
    closed = services.closed_days(hall, today - timedelta(days=DAYS), today)
    days_rows, events, tasks = [], [], []
    for term in terminals:
        if TerminalDay.objects.filter(terminal=term).exists():
            continue
        rng = random.Random(f"{seed}:terminal:{term.code}")
        for offset in range(DAYS - 1, -1, -1):
            day = today - timedelta(days=offset)
            if not is_open_day(profile.open_weekdays, closed, day):
                continue
            opens = datetime.combine(day, profile.opens_at, tzinfo=CHINA)
            closes = min(datetime.combine(day, profile.closes_at, tzinfo=CHINA), max(now, opens))
            if day == today and now <= opens:
                continue
            secs = int((closes - opens).total_seconds())
            online = secs
            if rng.random() < 0.05 and secs > 3600:  # an outage of the network or the terminal
                down = opens + timedelta(seconds=rng.uniform(0, secs - 3600))
                back = down + timedelta(minutes=rng.uniform(10, 120))
                detail = {"reason": "no_heartbeat"}
                events.append(
                    TerminalEvent(terminal=term, kind=TerminalEventKind.OFFLINE, at=down, detail=detail)
                )
                if back < now:
                    events.append(TerminalEvent(terminal=term, kind=TerminalEventKind.ONLINE, at=back))
                    tasks.append(
                        MaintenanceTask(
                            terminal=term,
                            fault=TerminalFault.OFFLINE,
                            status=TaskStatus.DONE,
                            opened_at=down,
                            closed_at=back,
                            note="网络恢复，终端重新上线",
                        )
                    )
                online -= int((min(back, closes) - down).total_seconds())
            for kind, fault, p, note in (
                (TerminalEventKind.PRINTER_FAULT, TerminalFault.PRINTER, 0.02, "更换打印头，测试正常"),
                (TerminalEventKind.ACCEPTOR_FAULT, TerminalFault.ACCEPTOR, 0.015, "清理纸币通道卡币"),
                (TerminalEventKind.PAPER_LOW, TerminalFault.PAPER, 0.03, "已补充凭条纸"),
                (TerminalEventKind.CASH_BOX, TerminalFault.CASH_BOX, 0.04, "已清点钱箱并解款"),
            ):
                if rng.random() >= p:
                    continue
                at = opens + timedelta(seconds=rng.uniform(0, max(60, secs - 60)))
                fixed = at + timedelta(hours=rng.uniform(0.5, 20))
                if at > now or fixed > now:
                    continue  # what is wrong now is set below, with its open task
                events.append(TerminalEvent(terminal=term, kind=kind, at=at, detail={"fault": str(fault)}))
                events.append(
                    TerminalEvent(
                        terminal=term,
                        kind=TerminalEventKind.FAULT_CLEARED,
                        at=fixed,
                        detail={"fault": str(fault)},
                    )
                )
                tasks.append(
                    MaintenanceTask(
                        terminal=term,
                        fault=fault,
                        status=TaskStatus.DONE,
                        opened_at=at,
                        closed_at=fixed,
                        note=note,
                    )
                )
            tx = _poisson(rng, 40 * day_factor(day) * online / max(1, 9 * 3600))
            days_rows.append(
                TerminalDay(
                    terminal=term,
                    day=day,
                    online_seconds=max(0, online),
                    transactions=tx,
                    id_reads=_poisson(rng, tx * 0.25),
                )
            )
    with transaction.atomic():
        _bulk(TerminalDay, days_rows, counts, "terminal_days")
        _bulk(TerminalEvent, events, counts, "terminal_events")
        _bulk(MaintenanceTask, tasks, counts, "maintenance_tasks")


def _terminal_now(terminals, hall_index: int, *, now: datetime, counts: dict) -> None:
    """TerminalState as of now; a few terminals with something wrong (and its open task)."""
    for k, term in enumerate(terminals):
        if TerminalState.objects.filter(terminal=term).exists():
            continue
        state = TerminalState(
            terminal=term,
            last_heartbeat_at=now - timedelta(seconds=20 + 7 * k),
            online=True,
            cash_box_percent=35 + (hall_index * 13 + k * 7) % 40,
            updated_at=now - timedelta(seconds=20 + 7 * k),
        )
        wrong = None
        if k == 0 and hall_index % 4 == 1:
            state.online, state.last_heartbeat_at = False, now - timedelta(minutes=47)
            state.updated_at = state.last_heartbeat_at
            wrong = (TerminalEventKind.OFFLINE, TerminalFault.OFFLINE, now - timedelta(minutes=42))
        elif k == 0 and hall_index % 4 == 2:
            state.printer_fault = True
            wrong = (TerminalEventKind.PRINTER_FAULT, TerminalFault.PRINTER, now - timedelta(hours=3))
        elif k == 0 and hall_index % 4 == 3:
            state.cash_box_percent = 86
            wrong = (TerminalEventKind.CASH_BOX, TerminalFault.CASH_BOX, now - timedelta(hours=1, minutes=10))
        elif k == 1:
            state.paper_low = True
            wrong = (TerminalEventKind.PAPER_LOW, TerminalFault.PAPER, now - timedelta(minutes=25))
        state.save()
        if term.last_seen_at is None or term.last_seen_at < state.last_heartbeat_at:
            Terminal.objects.filter(pk=term.pk).update(last_seen_at=state.last_heartbeat_at)
        if wrong is not None:
            kind, fault, at = wrong
            TerminalEvent.objects.create(terminal=term, kind=kind, at=at, detail={"fault": str(fault)})
            MaintenanceTask.objects.get_or_create(
                terminal=term, fault=fault, status=TaskStatus.OPEN, defaults={"opened_at": at}
            )
            counts["terminal_events"] = counts.get("terminal_events", 0) + 1
            counts["open_tasks"] = counts.get("open_tasks", 0) + 1


# ---------------------------------------------------------------- entry point


def demo_hall(
    *,
    today: date | None = None,
    now: datetime | None = None,
    seed: int = 42,
    scale: float = 1.0,
    halls=None,
) -> dict:
    """Set up every demo hall and write its history (see the module docstring). Returns counts, the device URLs
    per hall (`devices`: {hall name: [(kind, name, url)]}) and the seconds taken."""
    t0 = clock.monotonic()
    if now is None:
        today, now = demo_clock(today)
    assert today is not None
    counts: dict = {"halls": 0, "devices_made": 0, "terminals_made": 0, "devices": {}}
    halls = list(halls if halls is not None else ServiceHall.objects.select_related("unit").order_by("code"))
    cats = {c.code: c for c in Category.objects.filter(active=True)}
    with notices_muted():
        for index, hall in enumerate(halls):
            fresh = not Ticket.objects.filter(hall=hall).exists()
            with transaction.atomic():
                services.hall_setup_defaults(hall)
                if fresh:
                    _narrow_counters(hall, cats)
                devices, made = _devices(hall, now)
                counts["devices_made"] += made
                counts["devices"][hall.name] = devices
                terminals, made = _terminals(hall, now, today - timedelta(days=DAYS))
                counts["terminals_made"] += made
            if fresh:
                _hall_history(hall, today=today, now=now, seed=seed, scale=scale, counts=counts)
                counts["halls"] += 1
            _terminal_history(terminals, hall, today=today, now=now, seed=seed, counts=counts)
            _terminal_now(terminals, index, now=now, counts=counts)
    counts["seconds"] = round(clock.monotonic() - t0, 1)
    return counts
