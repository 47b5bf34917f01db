"""Demo data of customer credit rating (`gridcare demo_credit`, issue 17): a year of events and inspections, the
customer managers' on-site assessments and twelve monthly rating runs, so that every grade occurs and the reports,
the movers and the customer pages mean something.

`demo_credit(today=, now=, seed=42)` — deterministic for the same registry, `today` and seed; a second run writes
nothing (it stops when a monthly run exists). Everything goes through the services a person would use, so the
audit trail reads as it would in production:

1. staff: a 用电检查员 per bureau besides the seed's `inspector` (`inspector<bureau code>`, the demo password);
   the company `manager` approves and reviews;
2. 用电检查: the periodic schedule as it stood a year ago (`inspections_schedule`), then every inspection that fell
   due since, in date order: performed a few days after its due day (3 % refused by the customer); each checklist
   item a defect with a small probability (unqualified electricians 1–2), defects → a 限期整改通知书 (most put
   right in time, some late — the overdue job of that day runs first —, some never); the events inspections
   propose are approved by the manager (a few left pending); then today's overdue job and schedule;
3. staff-recorded events over the last twelve months (and older safety incidents, which break the three clean
   years): accidents, trips, concealment, violations, theft, obstruction, facility damage, reports, cooperation
   failures, absconder reports — recorded by the bureau's inspector, most approved by the manager, a few pending
   or rejected; three contested by the customer manager (one upheld, one annulled, one still open);
4. the ledger derivation as of today (arrears episodes and their clearing from the demo bills and payments; the
   failed withholding with a wrong-account code becomes a candidate the manager confirms), made first so that
   a showcase of six 照明户 without events can be chosen: one per grade (SHOWCASE), so every grade occurs
   whatever the ledger holds;
5. on-site assessments of most 动力户 (经营行为 / 发展潜力), approved by the manager, a few awaiting review;
6. twelve monthly rating runs, one per month up to the end of last month (customer notices muted for all but the
   latest), so each customer has a year of grades and the movers report has something to show.
"""

from __future__ import annotations

import random
import time as clock
from datetime import date, datetime, time, timedelta

from django.contrib.auth.hashers import make_password
from django.db.models import Min
from django.utils import timezone

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.dates import months_back
from gridcare.core.permissions import Role
from gridcare.customers.demo import DEMO_PASSWORD
from gridcare.customers.models import Account, Customer
from gridcare.notify.outbox import notices_muted
from gridcare.org.models import SupplyUnit, User

from . import assessments, inspections, ledger, runs, services
from .checklist import CODES, ELECTRICIAN
from .choices import EventCode, EventStatus, InspectionKind, InspectionStatus, RunKind
from .models import CreditContest, CreditEvent, CreditRun, Inspection
from .policy import current_policy, rated_class_for

# Staff-recorded events of the last twelve months: code → (power customers, lighting customers).
YEAR_EVENTS: dict[str, tuple[int, int]] = {
    EventCode.ACCIDENT: (25, 0),
    EventCode.TRIP_BRANCH: (10, 0),
    EventCode.TRIP_SUBSTATION: (3, 0),
    EventCode.CONCEALMENT: (3, 0),
    EventCode.VIOLATION: (12, 10),
    EventCode.THEFT: (4, 6),
    EventCode.OBSTRUCTION: (4, 2),
    EventCode.FACILITY_DAMAGE: (1, 1),
    EventCode.REPORT_COOPERATION: (4, 3),
    EventCode.ABSCONDER_REPORT: (3, 2),
    EventCode.CONTRACT_BAD_FAITH: (6, 0),
    EventCode.NO_TEST_COOPERATION: (8, 0),
    EventCode.DISPATCH_RULES_IGNORED: (4, 0),
}
# Codes some customers repeat within the year (the two-or-more rules).
REPEATED = {EventCode.TRIP_BRANCH: 3, EventCode.VIOLATION: 3}
OLDER_ACCIDENTS = 10  # 13–35 months ago: no points now, but no three clean years either
DEFECT_RATE = 0.04  # per checklist item
REFUSAL_RATE = 0.03
PENDING_SHARE = 0.08  # recorded events left for the approver
REJECTED_SHARE = 0.04
ASSESSED_SHARE = 0.85
RUN_MONTHS = 12


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def _staff(rng: random.Random) -> dict:
    """The demo's credit staff: the company manager (approver), each bureau's inspector and customer managers."""
    bureaus = list(SupplyUnit.objects.filter(level="bureau").order_by("code"))
    password = make_password(DEMO_PASSWORD)
    inspectors: dict[int, User] = {}
    for bureau in bureaus:
        found = User.objects.filter(role=Role.INSPECTOR, unit=bureau, is_active=True).order_by("id").first()
        if found is None:
            found = User.objects.create(
                username=f"inspector{bureau.code}",
                password=password,
                role=Role.INSPECTOR,
                unit=bureau,
                display_name=f"检查员{bureau.code}",
                phone=f"139{rng.randrange(100_000_000):08d}",
            )
        inspectors[bureau.pk] = found
    managers = {
        b.pk: list(User.objects.filter(role=Role.CUSTOMER_MANAGER, unit=b, is_active=True).order_by("id"))
        for b in bureaus
    }
    approver = (
        User.objects.filter(role=Role.MANAGER, unit__parent__isnull=True, is_active=True)
        .order_by("id")
        .first()
    )
    paths = {b.pk: b.path for b in bureaus}
    return {"inspectors": inspectors, "managers": managers, "approver": approver, "paths": paths}


def _bureau_of(unit_path: str, paths: dict[int, str]) -> int:
    return next(pk for pk, p in paths.items() if unit_path.startswith(p))


def demo_credit(*, today: date, now: datetime, seed: int = 42) -> dict:
    started = clock.monotonic()
    if CreditRun.objects.filter(kind=RunKind.MONTHLY).exists():
        return {"skipped": True, "seconds": 0}
    rng = random.Random(seed)
    staff = _staff(rng)
    approver = Actor(user=staff["approver"], channel=Channel.CONSOLE)
    system = Actor(channel=Channel.JOB)
    policy = current_policy()
    customers = list(
        Customer.objects.select_related("unit").only(
            "id", "unit_id", "unit__path", "customer_class", "customer_manager_id"
        )
    )
    bureau = {c.pk: _bureau_of(c.unit.path, staff["paths"]) for c in customers}
    inspector_of = {
        cid: Actor(user=staff["inspectors"][b], channel=Channel.CONSOLE) for cid, b in bureau.items()
    }
    power = [c for c in customers if rated_class_for(c.customer_class, policy) == "power"]
    lighting = [c for c in customers if rated_class_for(c.customer_class, policy) == "lighting"]
    counts = {"inspections": 0, "notices": 0, "events_recorded": 0, "contests": 0, "assessments": 0}
    year_ago = today - timedelta(days=365)

    with notices_muted():
        derived = ledger.derive_all(today=today, actor=system)
        counts.update(_inspections(rng, today, year_ago, inspector_of, approver, counts))
        _recorded_events(rng, today, power, lighting, inspector_of, approver, staff, bureau, counts)
        counts["showcase"] = _showcase(rng, today, lighting, inspector_of, approver)
        for event in CreditEvent.objects.filter(
            code=EventCode.WRONG_BANK_ACCOUNT, status=EventStatus.CANDIDATE
        ):
            services.candidate_confirm(
                actor=approver, event=event, note="客户变更账号未告知，核实属实", now=now
            )
        _assessments(rng, today, power, staff, bureau, approver, counts)

    # Twelve monthly runs, oldest first, each as of a month's last day up to the end of last month; the latest
    # one's customer notices go out (it is "this month's" run), the older ones' are muted.
    first_of_this = today.replace(day=1)
    run_ids = []
    for k in range(RUN_MONTHS - 1, -1, -1):
        as_of = months_back(first_of_this, k) - timedelta(days=1)
        at = _at(as_of + timedelta(days=1), 3)
        run = runs.monthly_run_create(actor=system, as_of=as_of, today=today, now=at)
        if k == 0:
            runs.execute(run, now=at)
        else:
            with notices_muted():
                runs.execute(run, now=at)
        run_ids.append(run.pk)
    last = CreditRun.objects.filter(pk=run_ids[-1]).first() if run_ids else None
    return {
        **counts,
        "derived": derived,
        "runs": len(run_ids),
        "grades": (last.grade_counts if last else {}),
        "events": CreditEvent.objects.count(),
        "seconds": round(clock.monotonic() - started, 1),
    }


def _inspections(rng, today, year_ago, inspector_of, approver, counts) -> dict:
    inspections.inspections_schedule(today=year_ago, now=_at(year_ago, 1))
    due = list(
        Inspection.objects.filter(
            status=InspectionStatus.SCHEDULED,
            kind=InspectionKind.PERIODIC,
            due_on__lte=today - timedelta(days=3),
        ).order_by("due_on", "id")
    )
    done = notices = 0
    for insp in due:
        actor = inspector_of[insp.customer_id]
        performed = min(insp.due_on + timedelta(days=rng.randrange(0, 6)), today - timedelta(days=1))
        at = _at(performed)
        if rng.random() < REFUSAL_RATE:
            inspections.inspection_refuse(
                actor=actor,
                inspection=insp,
                performed_on=performed,
                note="客户以生产繁忙为由拒绝检查",
                today=today,
                now=at,
            )
            done += 1
            continue
        answers, electricians = [], None
        for code in CODES:
            defect = rng.random() < DEFECT_RATE
            if defect and code == ELECTRICIAN:
                electricians = rng.choice([1, 1, 2])
            answers.append(
                inspections.ItemAnswer(
                    code=code,
                    result="defect" if defect else "ok",
                    finding="现场发现问题，已告知客户整改" if defect else "",
                )
            )
        insp = inspections.inspection_perform(
            actor=actor,
            inspection=insp,
            items=answers,
            summary="按周期完成用电检查",
            performed_on=performed,
            unqualified_electricians=electricians,
            today=today,
            now=at,
        )
        done += 1
        if not inspections.has_defect(insp):
            continue
        notice = inspections.notice_issue(actor=actor, inspection=insp, today=today, now=at)
        notices += 1
        fate = rng.random()
        if fate < 0.7:  # put right in time
            done_on = min(notice.issued_on + timedelta(days=rng.randrange(5, 28)), notice.deadline, today)
            inspections.notice_done(
                actor=actor, notice=notice, done_on=done_on, today=today, now=_at(done_on)
            )
        elif fate < 0.85:  # late: the overdue job of the day after the deadline ran first
            late_day = notice.deadline + timedelta(days=1)
            if late_day <= today:
                inspections.rectifications_overdue(today=late_day, now=_at(late_day, 0))
                done_on = min(notice.deadline + timedelta(days=rng.randrange(3, 20)), today)
                notice.refresh_from_db()
                inspections.notice_done(
                    actor=actor, notice=notice, done_on=done_on, today=today, now=_at(done_on)
                )
        # else: never put right — today's overdue job finds it
    inspections.rectifications_overdue(today=today, now=_at(today, 0))
    inspections.inspections_schedule(today=today, now=_at(today, 1))
    # The events inspections proposed: most approved by the manager.
    for event in CreditEvent.objects.filter(status=EventStatus.PENDING, inspection__isnull=False).order_by(
        "id"
    ):
        if rng.random() >= PENDING_SHARE:
            services.event_approve(
                actor=approver, event=event, note="检查记录属实", now=_at(event.date + timedelta(days=2))
            )
    return {"inspections": done, "notices": notices}


def _recorded_events(rng, today, power, lighting, inspector_of, approver, staff, bureau, counts) -> None:
    recorded: list[CreditEvent] = []

    def record(customer, code, day, count=None):
        event = services.event_record(
            actor=inspector_of[customer.pk],
            customer_id=customer.pk,
            code=code,
            day=day,
            count=count,
            description="现场核实情况，附检查记录及照片",
            today=today,
            now=_at(day, 15),
        )
        recorded.append(event)

    for code, (n_power, n_lighting) in YEAR_EVENTS.items():
        for pool, n in ((power, n_power), (lighting, n_lighting)):
            for customer in rng.sample(pool, min(n, len(pool))):
                day = today - timedelta(days=rng.randrange(5, 360))
                record(customer, code, day)
                if code in REPEATED and rng.random() < REPEATED[code] / max(n, 1):
                    record(
                        customer,
                        code,
                        min(day + timedelta(days=rng.randrange(10, 60)), today - timedelta(days=1)),
                    )
    for customer in rng.sample(power, min(OLDER_ACCIDENTS, len(power))):
        record(customer, EventCode.ACCIDENT, today - timedelta(days=rng.randrange(400, 1050)))
    counts["events_recorded"] = len(recorded)
    approved = []
    for event in recorded:
        draw = rng.random()
        decided = _at(event.date + timedelta(days=rng.randrange(1, 4)), 11)
        if draw < PENDING_SHARE and event.date > today - timedelta(days=30):
            continue  # recent: still awaiting approval
        if draw < PENDING_SHARE + REJECTED_SHARE:
            services.event_reject(actor=approver, event=event, reason="证据不足，退回补充", now=decided)
            continue
        approved.append(
            services.event_approve(actor=approver, event=event, note="证据齐全，同意", now=decided)
        )
    # Three contests by the customer manager: one upheld, one annulled, one still open.
    candidates = [
        e for e in approved if e.code in (EventCode.VIOLATION, EventCode.OBSTRUCTION, EventCode.ACCIDENT)
    ]
    for k, event in enumerate(rng.sample(candidates, min(3, len(candidates)))):
        managers = staff["managers"][bureau[event.customer_id]]
        if not managers:
            continue
        cm = Actor(user=managers[0], channel=Channel.CONSOLE)
        raised = _at(min(event.date + timedelta(days=7), today), 9)
        contest = services.contest_raise(
            actor=cm, event=event, reason="客户提供了新的情况说明，申请复核", now=raised
        )
        counts["contests"] += 1
        if k < 2:
            services.contest_decide(
                actor=approver,
                contest=CreditContest.objects.get(pk=contest.pk),
                upheld=k == 0,
                note="复核后维持原记录" if k == 0 else "复核后情况不实，撤销该记录",
                now=raised + timedelta(days=2),
            )


# One 照明户 per grade, so every grade occurs whatever the ledger holds (lighting: payment and legal, 50 each):
# nothing → 50 + 50 = 100 AAA; obstruction → legal 20 → 50 + 33.3 = 83.3 AA; a wrong bank account (payment
# 30 − 10 + 5 clean year = 25) and an obstruction → 41.7 + 33.3 = 75.0 A; a violation → legal 10 → 50 + 16.7 =
# 66.7 B; a wrong bank account and a violation → 41.7 + 16.7 = 58.4 C; theft → legal 0 → D.
SHOWCASE: tuple[tuple[str, ...], ...] = (
    (),
    (EventCode.OBSTRUCTION,),
    (EventCode.WRONG_BANK_ACCOUNT, EventCode.OBSTRUCTION),
    (EventCode.VIOLATION,),
    (EventCode.WRONG_BANK_ACCOUNT, EventCode.VIOLATION),
    (EventCode.THEFT,),
)


def _showcase(rng, today, lighting, inspector_of, approver) -> int:
    """Approved events for six 照明户 without any event yet and a year's standing (see SHOWCASE)."""
    busy = set(CreditEvent.objects.values_list("customer_id", flat=True))
    since = dict(
        Account.objects.values("customer_id")
        .annotate(first=Min("opened_on"))
        .values_list("customer_id", "first")
    )
    oldest = months_back(today, 14)
    pool = [c for c in lighting if c.pk not in busy and since.get(c.pk) and since[c.pk] <= oldest]
    chosen = rng.sample(pool, min(len(SHOWCASE), len(pool)))
    n = 0
    for customer, codes in zip(chosen, SHOWCASE, strict=False):
        for code in codes:
            day = today - timedelta(days=rng.randrange(45, 300))
            event = services.event_record(
                actor=inspector_of[customer.pk],
                customer_id=customer.pk,
                code=code,
                day=day,
                description="现场核实情况，附检查记录及照片",
                today=today,
                now=_at(day, 15),
            )
            services.event_approve(
                actor=approver, event=event, note="证据齐全，同意", now=_at(day + timedelta(days=1))
            )
            n += 1
    return n


def _assessments(rng, today, power, staff, bureau, approver, counts) -> None:
    grades = [2.0, 2.5, 3.0, 3.0, 3.5, 3.5, 4.0, 4.0, 4.0, 4.5, 4.5, 5.0]
    for customer in power:
        if rng.random() >= ASSESSED_SHARE:
            continue
        managers = staff["managers"][bureau[customer.pk]]
        own = [m for m in managers if m.pk == customer.customer_manager_id]
        assessor = (own or managers or [None])[0]
        if assessor is None:
            continue
        day = today - timedelta(days=rng.randrange(20, 330))
        a = assessments.assessment_create(
            actor=Actor(user=assessor, channel=Channel.CONSOLE),
            customer=customer,
            conduct=str(rng.choice(grades)),
            potential=str(rng.choice(grades)),
            assessed_on=day,
            note="走访企业，了解生产经营及盈利情况",
            today=today,
            now=_at(day, 14),
        )
        counts["assessments"] += 1
        if rng.random() < 0.93:
            assessments.assessment_review(
                actor=approver, assessment=a, approve=True, note="同意", now=_at(day + timedelta(days=3), 10)
            )
