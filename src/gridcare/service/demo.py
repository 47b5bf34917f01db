"""A year of demo 95598 work orders and the demo knowledge base (`gridcare demo_service`), so that the consoles,
the boards, the portal and the reports mean something.

`demo_service(today=, seed=42)` — deterministic for the same accounts, outages, calendar, `today` and seed
(`random.Random(seed)`). From a year back to `today`'s demo hour (`core.clock.demo_clock`):
- about 0.6 orders per account (150 at least, 6,000 at most) of every type, sub-type and channel, on accounts in
  service at the time (a few unidentified callers with a phone and an address), in the accounts' units;
- each walked through its type's lifecycle (`lifecycle.py`) with realistic step times: fault crews arrive mostly
  within the commitment (some late), restorations take a lognormal time; complaints are contacted and replied in
  office hours on working days of the calendar (some late); service requests are completed within their time
  limits (some late); callbacks (满意 / 基本满意 / 不满意 mix) on the next working day; a 不满意 callback reopens the
  order, which is handled again; complaints are marked substantiated or not; customers chase some orders;
  portal orders are rated by their customers;
- fault reports from accounts inside the demo outages of the year (`gridcare.outages`, read from the frozen
  affected accounts): the first caller's order is dispatched and restored when the outage area is, the later
  callers' orders are triaged `outage`, linked to the event and merged into the first; a few other duplicates
  are merged too;
- the most recent orders are still open where their steps lie after now; a few are stuck past their deadlines
  (overdue, escalated by the clock, chased) and a few are past 80 % of a deadline (warned);
- the portal demo customer (`customers.demo.PORTAL_DEMO_PHONE`) has orders to follow, one closed and unrated.
Deadlines come from the same pure `deadlines.compute` with `policies.rules_for` on the stored policy table and the
stored `WorkCalendar`, so they are what the services would have computed; a deadline is met when the step that
meets it is reached (`lifecycle.MEETS`; an opinion's reply when it is completed).

Written set-based: accounts, outages and users are read in a few queries; orders, events and deadlines are built
in Python and bulk-inserted. The knowledge base (`demo_kb.ARTICLES`, 35 articles) gets its versions: earlier
approved ones, rejected ones with the reviewer's note, a few waiting for approval; drafted by the demo agent and
customer manager, approved by the demo manager. Idempotent per part: demo orders (`WorkOrder.demo`) and demo
articles (their codes) are only built when absent; `replace=True` deletes and rebuilds both."""

from __future__ import annotations

import math
import random
import time as clock
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from gridcare.core.audit import Actor, audit_record
from gridcare.core.calendar import WorkCalendar
from gridcare.core.choices import Channel
from gridcare.core.clock import demo_clock

from . import lifecycle
from .choices import OrderType, Priority, Satisfaction, Step, Triage
from .deadlines import CHINA, compute
from .demo_kb import ARTICLES
from .models import (
    KnowledgeArticle,
    KnowledgeVersion,
    WorkOrder,
    WorkOrderAttachment,
    WorkOrderDeadline,
    WorkOrderEvent,
)
from .policies import load_rows, rules_for

ORDERS_PER_ACCOUNT = 0.6
MIN_ORDERS, MAX_ORDERS = 150, 6000
OVERDUE_SHARE = 0.012  # stuck orders among the non-fault ones with deadlines
DEADLINE_LABELS = {
    "arrival": "到达现场",
    "restoration": "恢复送电",
    "contact": "联系客户",
    "reply": "答复客户",
    "complete": "办结",
    "callback": "回访",
}
AREA_OF_TYPE = {"centre": "urban", "urban": "urban", "rural": "rural", "remote": "remote"}

TYPE_WEIGHTS = (
    ("consultation", 34),
    ("fault", 28),
    ("service_request", 14),
    ("complaint", 9),
    ("opinion", 6),
    ("praise", 6),
    ("report", 3),
)
SUB_WEIGHTS = {
    "complaint": (
        ("service", 30),
        ("business", 25),
        ("outage", 20),
        ("quality", 15),
        ("construction", 5),
        ("", 5),
    ),
    "service_request": (("reconnection", 35), ("meter_check", 20), ("reading_data", 25), ("other", 20)),
}
CHANNEL_WEIGHTS = {
    "fault": (("phone", 70), ("portal", 18), ("chat", 3), ("web", 3), ("site", 5), ("hall", 1)),
    "complaint": (("phone", 68), ("portal", 10), ("web", 8), ("chat", 3), ("hall", 5), ("letter", 6)),
    "report": (("phone", 60), ("web", 15), ("portal", 10), ("letter", 15)),
    "opinion": (("phone", 40), ("portal", 25), ("web", 15), ("hall", 8), ("letter", 12)),
    "consultation": (("phone", 55), ("portal", 15), ("chat", 20), ("web", 5), ("hall", 5)),
    "praise": (("phone", 50), ("portal", 20), ("letter", 20), ("hall", 10)),
    "service_request": (("phone", 45), ("portal", 30), ("hall", 15), ("web", 5), ("chat", 3), ("site", 2)),
}
CALLBACK_MIX = {
    "default": (("satisfied", 86), ("basic", 10), ("unsatisfied", 4)),
    "complaint": (("satisfied", 68), ("basic", 18), ("unsatisfied", 14)),
    "report": (("satisfied", 75), ("basic", 17), ("unsatisfied", 8)),
}
RATING_MIX = (("satisfied", 82), ("basic", 12), ("unsatisfied", 6))
FAULT_CAUSES = (
    "户内漏电保护器跳闸",
    "进户线接头松动烧断",
    "表箱内开关故障",
    "低压线路断线",
    "低压熔断器熔断",
    "电能表故障",
    "客户内部线路短路",
    "低压电缆分支箱故障",
)
DESCRIPTIONS = {
    "fault": (
        "家中突然停电，邻居家有电",
        "整栋楼停电",
        "电表箱冒烟有焦糊味",
        "门口电线被风刮断",
        "电压忽高忽低，灯泡闪烁",
        "家里一半电器没电",
    ),
    "complaint": (
        "抄表员态度恶劣",
        "营业厅排队时间过长，窗口少",
        "停电未提前通知",
        "电压偏低，空调无法启动",
        "施工后路面未恢复",
        "电费突然增高，怀疑计量有误",
        "报修后抢修人员迟迟未到",
    ),
    "report": (
        "有人私拉电线窃电",
        "商铺绕越电表用电",
        "有人冒充供电公司上门收费",
        "施工单位违规在电力线路下作业",
    ),
    "opinion": (
        "建议增加营业厅周末服务时间",
        "建议网上国网增加账单推送",
        "建议停电通知增加短信提醒",
        "建议小区增设充电桩",
    ),
    "consultation": (
        "咨询电费计算方法",
        "咨询阶梯电价分档",
        "咨询峰谷电价申请",
        "咨询停电时间",
        "咨询过户手续",
        "咨询交费方式",
        "咨询光伏并网流程",
        "咨询充电桩报装",
        "咨询电子发票开具",
        "咨询违约金计算",
    ),
    "praise": (
        "抢修人员冒雨及时恢复供电，特此表扬",
        "营业厅工作人员耐心细致",
        "客户经理上门帮助老人办理业务",
    ),
    "service_request": {
        "reconnection": "已交清欠费，申请恢复供电",
        "meter_check": "怀疑电能表走字快，申请校验",
        "reading_data": "本月电量异常偏高，申请核查抄表数据",
        "other": "申请更换表箱锁具",
    },
}
RESOLUTIONS = {
    "complaint": "已联系客户核实情况并致歉，落实整改措施，客户表示认可",
    "report": "已组织现场核查，按规定处理并答复举报人",
    "opinion": "已将建议转相关部门研究，答复客户采纳情况",
    "service_request": "已按客户申请办理完毕",
    "consultation": "已按知识库答复客户",
    "praise": "已将表扬转达相关班组和人员",
}
CALLERS = ("王先生", "李女士", "张先生", "刘女士", "陈先生", "杨女士", "赵先生", "周女士")


def _pick(rng: random.Random, weighted) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


@dataclass
class _Acct:
    id: int
    number: str
    unit_id: int
    name: str
    phone: str
    address: str
    ta_id: int | None
    area: str
    opened: date
    closed: date | None

    def in_service(self, day: date) -> bool:
        return self.opened <= day and (self.closed is None or self.closed > day)


@dataclass
class _Ev:
    at: datetime
    action: str
    to: str | None  # None: a side event, the status stays
    actor: int | None
    label: str
    note: str = ""
    data: dict = field(default_factory=dict)


@dataclass
class _Order:
    order_type: str
    sub_type: str
    channel: str
    unit_id: int
    received_at: datetime
    acct: _Acct | None = None
    ta_id: int | None = None
    area: str = ""
    caller_name: str = ""
    phone: str = ""
    address: str = ""
    description: str = ""
    priority: int = Priority.NORMAL
    created_by: int | None = None
    assignee: int | None = None
    triage: str = ""
    outage_id: int | None = None
    customer_user: int | None = None
    received_entered: bool = False
    entered_at: datetime | None = None  # when staff entered an order received earlier (a letter)
    plan: list[_Ev] = field(default_factory=list)  # forward steps, in time order
    side: list[_Ev] = field(default_factory=list)  # chases, substantiation, ratings, escalations
    merge_into: _Order | None = None
    stall: bool = False  # stuck at its current step (overdue / warned scenarios)
    # filled by _settle
    status: str = Step.CREATED
    events: list[_Ev] = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    deadlines: list[dict] = field(default_factory=list)
    number: str = ""

    @property
    def start(self) -> datetime:
        """When the order was registered: entered, or received."""
        return self.entered_at or self.received_at


class _Builder:
    def __init__(self, *, today: date, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.today, self.now = today, now
        self.first = today - timedelta(days=365)
        self.start = datetime.combine(self.first, time(), CHINA)
        self.orders: list[_Order] = []
        self.policy = load_rows()
        self.calendar = WorkCalendar.from_db()
        self._rules: dict[tuple[str, str, str], list] = {}
        self._load()

    # ---------------------------------------------------------------------------------------- reading
    def _load(self) -> None:
        from gridcare.core.permissions import Role
        from gridcare.customers.demo import PORTAL_DEMO_PHONE
        from gridcare.customers.models import Account, PortalBinding
        from gridcare.org.models import SupplyUnit, User

        self.units = {
            u["id"]: u for u in SupplyUnit.objects.values("id", "parent_id", "name", "level", "path", "code")
        }
        staff = {
            u["username"]: u
            for u in User.objects.filter(is_active=True)
            .exclude(role=Role.CUSTOMER)
            .values("id", "username", "display_name", "role", "unit_id")
        }
        self.staff = staff
        self.agent = staff.get("agent") or next((u for u in staff.values() if u["role"] == Role.AGENT), None)
        self.dispatcher = staff.get("dispatcher") or next(
            (u for u in staff.values() if u["role"] == Role.DISPATCHER), None
        )
        self.manager = staff.get("manager") or next(
            (u for u in staff.values() if u["role"] == Role.MANAGER), None
        )
        self.cmanagers: dict[int, list[dict]] = defaultdict(list)  # bureau → customer managers
        for u in sorted(staff.values(), key=lambda u: u["username"]):
            if u["role"] == Role.CUSTOMER_MANAGER and u["unit_id"]:
                self.cmanagers[u["unit_id"]].append(u)
        self.clerks = {u["unit_id"]: u for u in staff.values() if u["role"] == Role.COUNTER_CLERK}
        self.dispatch_units = set()
        if self.dispatcher and self.dispatcher["unit_id"]:
            path = self.units[self.dispatcher["unit_id"]]["path"]
            self.dispatch_units = {uid for uid, u in self.units.items() if u["path"].startswith(path)}

        ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
        n_orders = min(MAX_ORDERS, max(MIN_ORDERS, round(ORDERS_PER_ACCOUNT * len(ids))))
        self.n_orders = n_orders if ids else 0
        sample = set(self.rng.sample(ids, min(len(ids), max(50, n_orders // 2)))) if ids else set()
        self.outages = self._load_outages()
        needed = sample | {a for ev in self.outages for a, _ta, _s, _e in ev["accounts"]}
        portal = (
            PortalBinding.objects.filter(user__username=PORTAL_DEMO_PHONE)
            .order_by("created_at", "id")
            .values("user_id", "account_id")
            .first()
        )
        if portal:
            needed.add(portal["account_id"])
        self.accts: dict[int, _Acct] = {}
        needed_list = sorted(needed)
        for i in range(0, len(needed_list), 2000):
            for r in Account.objects.filter(pk__in=needed_list[i : i + 2000]).values(
                "pk",
                "account_number",
                "unit_id",
                "customer__name",
                "customer__phone",
                "premise__address",
                "premise__transformer_area_id",
                "premise__transformer_area__area_type",
                "opened_on",
                "closed_on",
            ):
                self.accts[r["pk"]] = _Acct(
                    r["pk"],
                    r["account_number"],
                    r["unit_id"],
                    r["customer__name"],
                    r["customer__phone"] or "",
                    r["premise__address"],
                    r["premise__transformer_area_id"],
                    AREA_OF_TYPE.get(r["premise__transformer_area__area_type"] or "", "urban"),
                    r["opened_on"],
                    r["closed_on"],
                )
        self.pool = [self.accts[a] for a in sorted(sample) if a in self.accts]
        self.portal = (portal["user_id"], self.accts.get(portal["account_id"])) if portal else None
        # Outage intervals per account: independent fault reports stay out of them.
        self.busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for ev in self.outages:
            for a, _ta, s, e in ev["accounts"]:
                self.busy[a].append((s, e))

    def _load_outages(self) -> list[dict]:
        """Unplanned outages of the year with their frozen accounts: [{id, number, title, frozen_at, accounts}]."""
        from gridcare.outages.choices import OutageKind, OutageStatus
        from gridcare.outages.models import AffectedAccount

        rows = (
            AffectedAccount.objects.filter(
                event__kind__in=[OutageKind.FAULT, OutageKind.EXTERNAL],
                event__status=OutageStatus.RESTORED,
                interruption__start__gte=self.start,
                interruption__end__lt=self.now,
            )
            .filter(Q(interruption__duration_s__gte=20 * 60))
            .values(
                "event_id",
                "event__number",
                "event__title",
                "event__frozen_at",
                "account_id",
                "interruption__area__transformer_area_id",
                "interruption__start",
                "interruption__end",
            )
            .order_by("event_id", "account_id")
        )
        events: dict[int, dict] = {}
        for r in rows:
            ev = events.setdefault(
                r["event_id"],
                {
                    "id": r["event_id"],
                    "number": r["event__number"],
                    "title": r["event__title"],
                    "frozen_at": r["event__frozen_at"],
                    "accounts": [],
                },
            )
            ev["accounts"].append(
                (
                    r["account_id"],
                    r["interruption__area__transformer_area_id"],
                    r["interruption__start"],
                    r["interruption__end"],
                )
            )
        return list(events.values())

    # ---------------------------------------------------------------------------------------- helpers
    def rules(self, order_type: str, sub: str, area: str) -> list:
        key = (order_type, sub, area)
        if key not in self._rules:
            rules = rules_for(self.policy, order_type, sub, area)
            if order_type in lifecycle.OPTIONAL_CALLBACK:
                rules = [r for r in rules if r.basis != "resolved"]
            self._rules[key] = rules
        return self._rules[key]

    def _minutes_of(self, order_type: str, sub: str, area: str, name: str, default: int) -> int:
        for r in self.rules(order_type, sub, area):
            if r.name == name and r.unit in ("minutes", "hours"):
                return r.amount * (60 if r.unit == "hours" else 1)
        return default

    def _wd_of(self, order_type: str, sub: str, name: str, default: int) -> int:
        for r in self.rules(order_type, sub, ""):
            if r.name == name and r.unit == "working_days":
                return r.amount
        return default

    @staticmethod
    def at(day: date, minutes: float) -> datetime:
        return datetime.combine(day, time(), CHINA) + timedelta(minutes=round(minutes))

    def u(self, who: dict | None) -> tuple[int | None, str]:
        if who is None:
            return None, "系统"
        return who["id"], who["display_name"] or who["username"]

    def cmanager(self, unit_id: int) -> dict | None:
        unit = self.units.get(unit_id)
        while unit is not None:
            people = self.cmanagers.get(unit["id"])
            if people:
                return people[unit_id % len(people)]
            unit = self.units.get(unit["parent_id"])
        return self.agent

    def crew(self, unit_id: int) -> tuple[int | None, str]:
        if self.dispatcher and unit_id in self.dispatch_units:
            return self.u(self.dispatcher)
        return None, f"{self.units[unit_id]['name']}抢修班"

    def office(self, receipt: datetime, k: int, after: datetime) -> datetime:
        """A time in office hours (9:00–17:30) on the k-th working day after the China date of `receipt` (k = 0:
        that day, when it is a working day), and after `after`; moved to the next working day when none is left."""
        day0 = receipt.astimezone(CHINA).date()
        if k == 0 and not self.calendar.is_working(day0):
            k = 1
        for _try in range(30):
            day = day0 if k == 0 else self.calendar.nth_working_day_after(day0, k)[0]
            lo = max(after + timedelta(minutes=10), self.at(day, 9 * 60))
            hi = self.at(day, 17 * 60 + 30)
            if lo < hi:
                return lo + (hi - lo) * self.rng.random()
            k += 1
        return after + timedelta(hours=1)  # pragma: no cover - the calendar always has working days

    def received(self, day: date, order_type: str, channel: str) -> datetime:
        rng = self.rng
        if channel in ("hall", "letter") or order_type == "praise":
            while not self.calendar.is_working(day) and channel == "letter":
                day += timedelta(days=1)
            return self.at(day, rng.uniform(8.5 * 60, 17 * 60))
        if order_type == "fault":
            return self.at(day, rng.triangular(0, 24 * 60, 19 * 60))
        return self.at(day, rng.triangular(7 * 60, 22 * 60, 10 * 60))

    def account_at(self, day: date) -> _Acct | None:
        for _try in range(20):
            a = self.rng.choice(self.pool)
            if a.in_service(day):
                return a
        return None

    def in_outage(self, acct: _Acct, t: datetime) -> bool:
        return any(
            s - timedelta(hours=1) <= t <= e + timedelta(hours=1) for s, e in self.busy.get(acct.id, ())
        )

    def new_order(
        self, order_type: str, sub: str, channel: str, received_at: datetime, acct: _Acct | None
    ) -> _Order:
        rng = self.rng
        received_at = received_at.replace(microsecond=0)
        o = _Order(order_type=order_type, sub_type=sub, channel=channel, unit_id=0, received_at=received_at)
        if acct is not None:
            o.acct, o.unit_id, o.ta_id, o.area = acct, acct.unit_id, acct.ta_id, acct.area
            o.caller_name, o.phone, o.address = acct.name, acct.phone, acct.address
        desc = DESCRIPTIONS[order_type]
        o.description = desc[sub] if isinstance(desc, dict) else rng.choice(desc)
        if order_type == "fault":
            o.triage = Triage.DISPATCH  # the outage calls say otherwise
            o.priority = _pick(rng, ((Priority.NORMAL, 82), (Priority.HIGH, 14), (Priority.URGENT, 4)))
        creator = {"hall": None, "site": self.dispatcher, "web": None, "portal": None}.get(
            channel, self.agent
        )
        if channel == "hall":
            creator = self.clerk_for(o.unit_id) or self.agent
        o.created_by = creator["id"] if creator else None
        if channel == "letter":  # entered by staff the next working day, with the day it came as received_at
            o.received_entered = True
            entered = self.office(received_at, 1, received_at).replace(microsecond=0)
            o.entered_at = entered if entered < self.now else received_at + timedelta(minutes=10)
        return o

    def clerk_for(self, unit_id: int) -> dict | None:
        unit = self.units.get(unit_id)
        while unit is not None:
            if unit["id"] in self.clerks:
                return self.clerks[unit["id"]]
            unit = self.units.get(unit["parent_id"])
        return None

    def creator_label(self, o: _Order) -> tuple[int | None, str]:
        if o.created_by is None:
            return None, "客户"
        who = next((u for u in self.staff.values() if u["id"] == o.created_by), None)
        return self.u(who)

    # ------------------------------------------------------------------------------------ lifecycles
    def _create(self, o: _Order, note: str = "") -> None:
        actor, label = self.creator_label(o)
        o.plan.append(_Ev(o.start, "create", Step.CREATED, actor, label, note, {"channel": o.channel}))

    def _callback(self, o: _Order, resolved: datetime, mix: str, *, allow_unsatisfied: bool = True) -> _Ev:
        rng = self.rng
        k = _pick(rng, ((0, 55), (1, 42), (2, 3)))
        at = self.office(resolved, k, resolved)
        sat = _pick(rng, CALLBACK_MIX.get(mix, CALLBACK_MIX["default"]))
        if not allow_unsatisfied and sat == Satisfaction.UNSATISFIED:
            sat = Satisfaction.SATISFIED
        actor, label = self.u(self.agent)
        notes = {
            "satisfied": "客户对处理结果满意",
            "basic": "客户表示基本满意",
            "unsatisfied": "客户对处理结果不满意，要求重新处理",
        }
        data = {"satisfaction": sat}
        if sat == Satisfaction.UNSATISFIED:
            data["reopened"] = True
        ev = _Ev(at, "callback", Step.CALLBACK, actor, label, notes[sat], data)
        o.plan.append(ev)
        return ev

    def _close(self, o: _Order, after: datetime) -> None:
        actor, label = self.u(self.agent)
        o.plan.append(
            _Ev(after + timedelta(minutes=self.rng.uniform(1, 30)), "close", Step.CLOSED, actor, label)
        )

    def walk_fault(
        self,
        o: _Order,
        *,
        arrive_by: datetime | None = None,
        restore_at: datetime | None = None,
        cause: str = "",
    ) -> None:
        rng = self.rng
        self._create(o)
        agent = self.u(self.agent)
        crew = self.crew(o.unit_id)
        t = o.start + timedelta(minutes=rng.uniform(1, 4))
        o.plan.append(_Ev(t, "accept", Step.ACCEPTED, *agent))
        commit = self._minutes_of("fault", "", o.area, "arrival", 45)
        repair_commit = self._minutes_of("fault", "", o.area, "restoration", 180)
        for round_ in range(2):
            t += timedelta(minutes=rng.uniform(2, 8) if round_ == 0 else rng.uniform(30, 120))
            data = {}
            if self.dispatcher and o.unit_id in self.dispatch_units:
                o.assignee = self.dispatcher["id"]
                data = {"assignee": self.dispatcher["username"]}
            o.plan.append(_Ev(t, "dispatch", Step.DISPATCHED, *crew, data=data))
            t += timedelta(minutes=rng.uniform(3, 10))
            o.plan.append(_Ev(t, "depart", Step.DEPARTED, *crew, note="抢修人员已出发"))
            if round_ == 0:
                late = rng.random() < 0.08
                minutes = rng.uniform(1.02, 1.6) * commit if late else rng.uniform(0.35, 0.95) * commit
                arrived = o.received_at + timedelta(minutes=minutes)
                if arrive_by is not None:
                    arrived = min(arrived, arrive_by)
            else:
                arrived = t + timedelta(minutes=rng.uniform(20, 70))
            arrived = max(arrived, t + timedelta(minutes=2))
            o.plan.append(_Ev(arrived, "arrive", Step.ARRIVED, *crew, note="已到达现场"))
            if restore_at is not None and round_ == 0:
                restored = max(restore_at, arrived + timedelta(minutes=10))
            else:
                repair = min(max(rng.lognormvariate(math.log(70), 0.6), 15), 8 * 60)
                if rng.random() < 0.05:
                    repair = rng.uniform(1.05, 1.5) * repair_commit
                restored = arrived + timedelta(minutes=repair)
            why = cause or rng.choice(FAULT_CAUSES)
            o.plan.append(
                _Ev(
                    restored,
                    "restore",
                    Step.RESTORED,
                    *crew,
                    note="已恢复送电",
                    data={"fault_cause": why, "resolution": f"{why}，已处理恢复送电"},
                )
            )
            cb = self._callback(o, restored, "fault", allow_unsatisfied=round_ == 0)
            t = cb.at
            if cb.data["satisfaction"] != Satisfaction.UNSATISFIED:
                break
        self._close(o, t)

    def walk_handled(self, o: _Order) -> None:
        """complaint, report (contacted → replied), opinion and service_request (→ completed)."""
        rng = self.rng
        self._create(o)
        agent = self.u(self.agent)
        handler = self.cmanager(o.unit_id)
        who = self.u(handler)
        t = o.start + timedelta(minutes=rng.uniform(3, 40))
        o.plan.append(_Ev(t, "accept", Step.ACCEPTED, *agent))
        t += timedelta(minutes=rng.uniform(10, 90))
        o.assignee = handler["id"] if handler else None
        o.plan.append(
            _Ev(t, "assign", Step.ASSIGNED, *agent, data={"assignee": handler["username"]} if handler else {})
        )
        path = lifecycle.STEPS[o.order_type]
        late_share = 0.06
        for round_ in range(2):
            if Step.CONTACTED in path:
                n = self._wd_of(o.order_type, o.sub_type, "contact", 1) if o.order_type == "complaint" else 2
                k = rng.randint(0, n) if rng.random() > late_share or round_ else n + rng.randint(1, 2)
                t = self.office(
                    o.received_at if round_ == 0 else t, k if round_ == 0 else rng.randint(0, 1), t
                )
                o.plan.append(_Ev(t, "contact", Step.CONTACTED, *who, note="已电话联系客户了解情况"))
                name = "reply"
                step, action = Step.REPLIED, "reply"
            else:
                name = "reply" if o.order_type == "opinion" else "complete"
                step, action = Step.COMPLETED, "complete"
            if round_ == 1:
                t = self.office(t, rng.randint(1, 3), t)
            elif o.order_type == "service_request" and o.sub_type == "reconnection":
                hours = rng.uniform(25, 30) if rng.random() < late_share else rng.triangular(0.2, 20, 1)
                t = max(t + timedelta(minutes=5), o.received_at + timedelta(hours=hours))
            else:
                n = self._wd_of(o.order_type, o.sub_type, name, 5)
                k = (
                    rng.randint(max(1, n // 3), max(1, n - 1))
                    if rng.random() > late_share
                    else n + rng.randint(1, 2)
                )
                t = self.office(o.received_at, k, t)
            o.plan.append(
                _Ev(
                    t,
                    action,
                    step,
                    *who,
                    note=RESOLUTIONS[o.order_type],
                    data={"resolution": RESOLUTIONS[o.order_type]},
                )
            )
            replied = t
            cb = self._callback(o, t, o.order_type, allow_unsatisfied=round_ == 0)
            t = cb.at
            if o.order_type == "complaint" and round_ == 0 and rng.random() < 0.92:
                # Marked substantiated or not between the reply and the callback.
                value = rng.random() < 0.35
                o.side.append(
                    _Ev(
                        replied + (cb.at - replied) * rng.uniform(0.1, 0.9),
                        "substantiate",
                        None,
                        *who,
                        note="经核实，投诉属实" if value else "经核实，投诉不属实",
                        data={"substantiated": value},
                    )
                )
            if cb.data["satisfaction"] != Satisfaction.UNSATISFIED:
                break
        self._close(o, t)

    def walk_answer(self, o: _Order) -> None:
        """consultation and praise: answered (in the call, or within a working day), closed; some called back."""
        rng = self.rng
        self._create(o)
        who = self.u(self.clerk_for(o.unit_id) if o.channel == "hall" else self.agent)
        if o.order_type == "consultation" and o.channel in ("phone", "chat", "hall"):
            t = o.start + timedelta(minutes=rng.uniform(2, 12))
        else:
            t = self.office(o.received_at, rng.randint(0, 1), o.start)
        o.plan.append(
            _Ev(
                t,
                "answer",
                Step.ANSWERED,
                *who,
                note=RESOLUTIONS[o.order_type],
                data={"resolution": RESOLUTIONS[o.order_type]},
            )
        )
        if o.order_type == "consultation" and rng.random() < 0.2:
            cb = self._callback(o, t, "default", allow_unsatisfied=False)
            t = cb.at
        self._close(o, t)

    def walk(self, o: _Order) -> None:
        if o.order_type == "fault":
            self.walk_fault(o)
        elif o.order_type in ("consultation", "praise"):
            self.walk_answer(o)
        else:
            self.walk_handled(o)

    # ------------------------------------------------------------------------------------- the story
    def build(self) -> None:
        if not self.pool:
            return
        outage_orders = self._outage_calls()
        n_fault = max(20, round(self.n_orders * dict(TYPE_WEIGHTS)["fault"] / 100) - outage_orders)
        kinds = [t for t, _w in TYPE_WEIGHTS]
        # Every type × sub-type × channel of the weights at least once, then the mix.
        todo: list[tuple[str, str, str]] = []
        for t in kinds:
            subs = [s for s, _w in SUB_WEIGHTS.get(t, (("", 1),))]
            for ch, _w in CHANNEL_WEIGHTS[t]:
                todo.append((t, self.rng.choice(subs), ch))
            for s in subs:
                todo.append((t, s, _pick(self.rng, CHANNEL_WEIGHTS[t])))
        rest = max(0, self.n_orders - outage_orders - len(todo))
        for _i in range(rest):
            t = _pick(self.rng, TYPE_WEIGHTS)
            if t == "fault" and n_fault <= 0:
                t = "consultation"
            n_fault -= t == "fault"
            todo.append(
                (
                    t,
                    _pick(self.rng, SUB_WEIGHTS[t]) if t in SUB_WEIGHTS else "",
                    _pick(self.rng, CHANNEL_WEIGHTS[t]),
                )
            )
        days = (self.today - self.first).days
        for t, sub, ch in todo:
            day = self.first + timedelta(days=self.rng.randrange(days + 1))
            received = self.received(day, t, ch)
            if received >= self.now - timedelta(minutes=5):
                received = self.now - timedelta(minutes=self.rng.uniform(30, 24 * 60 * 3))
            if received < self.start:
                received = self.start + timedelta(hours=10)
            acct = self.account_at(received.astimezone(CHINA).date())
            if t == "fault" and acct is not None and self.in_outage(acct, received):
                received -= timedelta(days=2)
                if received < self.start or self.in_outage(acct, received):
                    continue
            unidentified = acct is None or (t in ("fault", "consultation") and self.rng.random() < 0.025)
            o = self.new_order(t, sub, ch, received, None if unidentified else acct)
            if unidentified:
                ref = acct or self.rng.choice(self.pool)
                o.unit_id, o.ta_id, o.area = ref.unit_id, ref.ta_id, ref.area
                o.caller_name = self.rng.choice(CALLERS)
                o.phone = f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
                o.address = (
                    ref.address.split("号")[0] + "号附近" if "号" in ref.address else ref.address + "附近"
                )
            if t == "fault" and o.area == "":
                o.area = "urban"
            self.walk(o)
            self.orders.append(o)
        self._duplicates()
        self._stuck()
        self._warned()
        self._portal()
        self._chases()
        self._ratings()

    def _outage_calls(self) -> int:
        """Fault reports from accounts inside the year's outages: the first dispatched, the later merged into it."""
        rng, made = self.rng, 0
        for ev in self.outages:
            if rng.random() < 0.15:
                continue
            accts = [x for x in ev["accounts"] if x[0] in self.accts]
            if not accts:
                continue
            n = min(len(accts), 6, max(1, round(len(accts) * rng.uniform(0.03, 0.12))))
            callers = rng.sample(accts, n)
            start = min(s for _a, _t, s, _e in callers)
            frozen = ev["frozen_at"] or start + timedelta(minutes=5)
            first = None
            for i, (aid, ta_id, s, e) in enumerate(callers):
                acct = self.accts[aid]
                if i > 0 and first is None:
                    break
                if i == 0:
                    received = s + timedelta(
                        minutes=rng.uniform(1, max(1.5, (frozen - s).total_seconds() / 60 - 0.5))
                    )
                else:
                    lo = frozen + timedelta(minutes=1)
                    hi = e - timedelta(minutes=5)
                    if hi <= lo:
                        continue
                    received = lo + (hi - lo) * rng.random() * 0.5
                if received >= self.now:
                    continue
                o = self.new_order("fault", "", _pick(rng, (("phone", 80), ("portal", 20))), received, acct)
                o.ta_id = ta_id or o.ta_id
                o.outage_id = ev["id"]
                o.description = "家中停电，周边邻居也没电"
                if i == 0:
                    o.triage = Triage.DISPATCH
                    self.walk_fault(o, restore_at=e, cause=ev["title"])
                    first = o
                else:
                    o.triage = Triage.OUTAGE
                    self._create(o, f"位于停电事件 {ev['number']} 范围内，已关联，不另派抢修")
                    if first is not None:
                        o.merge_into = first
                        actor, label = self.u(self.agent)
                        o.plan.append(
                            _Ev(
                                received + timedelta(minutes=rng.uniform(2, 10)),
                                "merge",
                                Step.MERGED,
                                actor,
                                label,
                                "同一停电事件的重复报修，合并处理",
                            )
                        )
                self.orders.append(o)
                made += 1
        return made

    def _duplicates(self) -> None:
        """A customer calling again about an open order through another channel: merged into the first."""
        rng = self.rng
        pool = [
            o
            for o in self.orders
            if o.acct
            and o.order_type in ("complaint", "service_request", "fault")
            and not o.merge_into
            and o.triage != Triage.OUTAGE
        ]
        for orig in rng.sample(pool, min(len(pool), max(3, len(self.orders) // 80))):
            resolved = next((e.at for e in orig.plan if e.action in ("restore", "reply", "complete")), None)
            end = min(resolved or self.now, self.now, orig.start + timedelta(days=2))
            lo = orig.start + timedelta(minutes=20)
            if end - lo < timedelta(minutes=30):
                continue
            received = lo + (end - lo - timedelta(minutes=20)) * rng.random()
            channels = [c for c, _w in CHANNEL_WEIGHTS[orig.order_type] if c != orig.channel] or [
                orig.channel
            ]
            dup = self.new_order(orig.order_type, orig.sub_type, rng.choice(channels), received, orig.acct)
            dup.description = orig.description + "（再次反映）"
            self._create(dup)
            dup.merge_into = orig
            actor, label = self.u(self.agent)
            dup.plan.append(
                _Ev(
                    dup.start + timedelta(minutes=rng.uniform(3, 15)),
                    "merge",
                    Step.MERGED,
                    actor,
                    label,
                    "重复诉求，合并处理",
                )
            )
            self.orders.append(dup)

    def _stall(self, o: _Order, keep: int) -> None:
        """Keep the first `keep` forward steps only: the order stays where it is."""
        o.plan = o.plan[:keep]
        o.side = [e for e in o.side if e.at <= o.plan[-1].at]
        o.stall = True

    def _stuck(self) -> None:
        """Orders stuck past their deadlines (assigned, never contacted / replied / completed), chased; and two
        fault reports of today with no crew on site past the arrival commitment."""
        rng = self.rng
        candidates = [
            o
            for o in self.orders
            if o.order_type in ("complaint", "report", "opinion", "service_request")
            and not o.merge_into
            and self.now - timedelta(days=60) < o.received_at < self.now - timedelta(days=16)
        ]
        for o in rng.sample(
            candidates, min(len(candidates), max(3, round(len(self.orders) * OVERDUE_SHARE)))
        ):
            self._stall(o, 3)  # created, accepted, assigned
        faults = [a for a in self.pool if a.in_service(self.today) and not self.in_outage(a, self.now)]
        for k in range(min(2, len(faults))):
            acct = faults[k * 7 % len(faults)]
            commit = self._minutes_of("fault", "", acct.area, "arrival", 45)
            o = self.new_order(
                "fault", "", "phone", self.now - timedelta(minutes=commit + rng.uniform(25, 90)), acct
            )
            self.walk_fault(o)
            self._stall(o, 4)  # created, accepted, dispatched, departed
            self.orders.append(o)

    def _warned(self) -> None:
        """Orders past 80 % of a deadline, not yet due: a complaint awaiting its reply, a meter check awaiting
        completion, a fault report whose crew is on its way."""
        rng = self.rng
        for order_type, sub, name, keep in (
            ("complaint", "service", "reply", 4),
            ("complaint", "quality", "reply", 4),
            ("service_request", "meter_check", "complete", 3),
        ):
            rule = next((r for r in self.rules(order_type, sub, "") if r.name == name), None)
            if rule is None:
                continue
            for back in range(1, 40):
                day = self.today - timedelta(days=back)
                received = self.at(day, 10 * 60 + rng.uniform(0, 60))
                due = compute([rule], received_at=received, calendar=self.calendar)[0].due_at
                if received + (due - received) * 0.8 <= self.now - timedelta(minutes=10) and due > self.now:
                    break
            else:
                continue
            acct = self.account_at(day)
            if acct is None:
                continue
            o = self.new_order(order_type, sub, "phone", received, acct)
            self.walk_handled(o)
            o.plan = [e for e in o.plan if e.at <= self.now]
            self._stall(o, min(keep, len(o.plan)))
            self.orders.append(o)
        acct = next(
            (a for a in self.pool if a.in_service(self.today) and not self.in_outage(a, self.now)), None
        )
        if acct is not None:
            commit = self._minutes_of("fault", "", acct.area, "arrival", 45)
            o = self.new_order("fault", "", "portal", self.now - timedelta(minutes=commit * 0.88), acct)
            self.walk_fault(o)
            self._stall(o, 4)
            self.orders.append(o)

    def _portal(self) -> None:
        """The portal demo customer's orders: a closed fault report rated, a closed meter check to rate, an open
        complaint and a closed consultation."""
        if not self.portal or self.portal[1] is None:
            return
        user_id, acct = self.portal
        specs = (
            ("fault", "", 62, 1),
            ("service_request", "meter_check", 30, 0),
            ("consultation", "", 12, 0),
            ("complaint", "service", 2, 0),
        )
        for order_type, sub, days_back, rated in specs:
            day = self.today - timedelta(days=days_back)
            while not self.calendar.is_working(day):
                day -= timedelta(days=1)
            o = self.new_order(order_type, sub, "portal", self.at(day, 10 * 60 + 17), acct)
            o.customer_user = user_id
            if order_type == "fault":  # the crew came in time: the customer rates it
                commit = self._minutes_of("fault", "", o.area, "arrival", 45)
                self.walk_fault(o, arrive_by=o.received_at + timedelta(minutes=commit * 0.6))
            else:
                self.walk(o)
            for e in o.plan:
                if e.action == "callback":
                    e.data = {"satisfaction": "satisfied"}
                    e.note = "客户对处理结果满意"
            # Only the first callback counts: the demo customer was satisfied.
            cut = next((i for i, e in enumerate(o.plan) if e.action == "callback"), None)
            if cut is not None:
                o.plan = [*o.plan[: cut + 1], *[e for e in o.plan[cut + 1 :] if e.action == "close"][:1]]
            if rated:
                o.side.append(
                    _Ev(
                        o.plan[-1].at + timedelta(hours=5),
                        "rate",
                        None,
                        None,
                        "客户",
                        "抢修很及时，谢谢！",
                        {"rating": "satisfied"},
                    )
                )
            self.orders.append(o)

    def _chases(self) -> None:
        """Customers chasing orders (催办): the stuck ones once or twice, and a few others while they were open."""
        rng = self.rng
        actor, label = self.u(self.agent)
        for o in self.orders:
            if o.merge_into or o.order_type in ("consultation", "praise"):
                continue
            end = next((e.at for e in o.plan if e.action in ("restore", "reply", "complete")), None)
            if o.stall:
                times = 1 + (rng.random() < 0.5)
                end = self.now
            elif rng.random() < 0.04 and end is not None:
                times = 1
            else:
                continue
            span = (end - o.start).total_seconds()
            if span < 3600:
                continue
            for _i in range(times):
                at = o.start + timedelta(seconds=rng.uniform(0.5, 0.98) * span)
                o.side.append(_Ev(at, "chase", None, actor, label, "客户来电催办"))

    def _ratings(self) -> None:
        """Portal customers rate some of their closed orders."""
        rng = self.rng
        for o in self.orders:
            if o.channel != "portal" or o.merge_into or o.customer_user:  # the demo customer rates one only
                continue
            closed = next((e.at for e in o.plan if e.action == "close"), None)
            if closed is None or rng.random() > 0.4:
                continue
            rating = _pick(rng, RATING_MIX)
            at = closed + timedelta(hours=rng.uniform(1, 48))
            o.side.append(_Ev(at, "rate", None, None, "客户", "", {"rating": rating}))

    # --------------------------------------------------------------------------------- the outcome
    def settle(self, o: _Order) -> None:
        """Play the plan up to now: status, step fields, events, deadlines with their met / warned / escalated
        times, escalations."""
        now = self.now
        for e in (*o.plan, *o.side):  # whole seconds, as the services store them
            e.at = e.at.replace(microsecond=0)
        f: dict[str, Any] = {
            "arrived_at": None,
            "resolved_at": None,
            "closed_at": None,
            "fault_cause": "",
            "resolution": "",
            "callback_result": "",
            "callback_note": "",
            "callback_at": None,
            "customer_rating": "",
            "customer_comment": "",
            "substantiated": None,
            "reopen_count": 0,
            "chase_count": 0,
            "escalation_level": 0,
        }
        status = None
        timeline: list[tuple[datetime, str]] = []
        events: list[_Ev] = []
        met: dict[str, datetime] = {}
        last_arrival = last_resolution = None
        resolution_step = lifecycle.RESOLUTION[o.order_type]
        for e in o.plan:
            if e.at > now:
                break
            to = e.to
            if e.action == "arrive":
                f["arrived_at"] = last_arrival = e.at
                met.pop("restoration", None)  # a new arrival: a new restoration clock
            if e.action == "restore":
                f["fault_cause"] = e.data.get("fault_cause", "")
            if to == resolution_step:
                f["resolved_at"] = last_resolution = e.at
                f["resolution"] = e.data.get("resolution", f["resolution"])
                met.pop("callback", None)
            if e.action == "callback":
                f["callback_result"], f["callback_note"], f["callback_at"] = (
                    e.data["satisfaction"],
                    e.note,
                    e.at,
                )
                if e.data["satisfaction"] == Satisfaction.UNSATISFIED:
                    to = lifecycle.REOPEN_TO[o.order_type]
                    f["reopen_count"] += 1
                    f["resolved_at"] = None
                    last_resolution = None
            if to in (Step.CLOSED, Step.MERGED):
                f["closed_at"] = e.at
            meets = lifecycle.MEETS.get(e.to or "")
            if o.order_type == "opinion" and e.to == Step.COMPLETED:
                meets = "reply"  # an opinion's time limit is its reply, given when it is completed
            if meets and meets not in met and not (e.action == "callback" and to != Step.CALLBACK):
                met[meets] = e.at
            data = {k: v for k, v in e.data.items() if k not in ("fault_cause", "resolution")}
            events.append(_Ev(e.at, e.action, to, e.actor, e.label, e.note, data))
            status = to
            timeline.append((e.at, to))
        o.status = status or Step.CREATED
        times = [t for t, _s in timeline]

        def status_at(t: datetime) -> str:
            i = bisect_right(times, t) - 1
            return timeline[i][1] if i >= 0 else Step.CREATED

        terminal_at = f["closed_at"] or now
        for e in sorted(o.side, key=lambda e: e.at):
            if e.at > now or (e.action != "rate" and e.at > terminal_at):
                continue
            s = status_at(e.at)
            if e.action == "rate":
                if o.status != Step.CLOSED:
                    continue
                f["customer_rating"], f["customer_comment"] = e.data["rating"], e.note
            elif e.action == "substantiate":
                f["substantiated"] = e.data["substantiated"]
            elif e.action == "chase":
                if s in lifecycle.TERMINAL:
                    continue
                f["chase_count"] += 1
                o.priority = min(o.priority + 1, Priority.URGENT)
            events.append(
                _Ev(
                    e.at,
                    e.action,
                    s,
                    e.actor,
                    e.label,
                    e.note,
                    dict(e.data),
                )
            )
            events[-1].data["_from"] = s

        # The deadlines the services would hold now (the restoration one from the last arrival, the callback one
        # from the last resolution), met when their step was reached.
        planned = compute(
            self.rules(o.order_type, o.sub_type, o.area),
            received_at=o.received_at,
            arrived_at=last_arrival,
            resolved_at=last_resolution,
            calendar=self.calendar,
        )
        for d in planned:
            row = {
                "name": d.name,
                "amount": d.amount,
                "unit": d.unit,
                "starts_at": d.starts_at,
                "due_at": d.due_at,
                "provisional": d.provisional,
                "met_at": met.get(d.name),
                "warned_at": None,
                "escalated_at": None,
            }
            if o.status != Step.MERGED:
                stop = row["met_at"] or now
                warn = o.received_at + (d.due_at - o.received_at) * 0.8 + timedelta(minutes=3)
                if warn < stop and warn <= now and warn < d.due_at:
                    row["warned_at"] = warn
                escalate = d.due_at + timedelta(minutes=4)
                if escalate < stop and escalate <= now:
                    row["escalated_at"] = escalate
                    f["escalation_level"] += 1
                    o.priority = max(o.priority, Priority.HIGH)
                    s = status_at(escalate)
                    events.append(
                        _Ev(
                            escalate,
                            "escalate",
                            s,
                            None,
                            "系统",
                            f"{DEADLINE_LABELS.get(d.name, d.name)}时限已超时，升级至单位负责人",
                            {"deadline": d.name, "_from": s},
                        )
                    )
            o.deadlines.append(row)
        o.events = sorted(events, key=lambda e: e.at)
        o.fields.update(f)


def _staff_user(username: str):
    from gridcare.org.models import User

    return User.objects.filter(username=username, is_active=True).first()


def delete_demo() -> dict[str, int]:
    """Delete the demo orders (with their events, deadlines and attachments) and the demo articles."""
    from .models import ChatSession

    ids = list(WorkOrder.objects.filter(demo=True).values_list("pk", flat=True))
    # Rows made by hand that point at demo orders let go of them.
    WorkOrder.objects.filter(merged_into_id__in=ids, demo=False).update(merged_into=None)
    ChatSession.objects.filter(order_id__in=ids).update(order=None)
    for i in range(0, len(ids), 2000):
        chunk = ids[i : i + 2000]
        for model in (WorkOrderEvent, WorkOrderDeadline, WorkOrderAttachment):
            model.objects.filter(order_id__in=chunk)._raw_delete(model.objects.db)
    WorkOrder.objects.filter(pk__in=ids).update(merged_into=None)
    for i in range(0, len(ids), 2000):
        WorkOrder.objects.filter(pk__in=ids[i : i + 2000])._raw_delete(WorkOrder.objects.db)
    codes = [a.code for a in ARTICLES]
    articles = KnowledgeArticle.objects.filter(code__in=codes)
    n_articles = articles.count()
    articles.update(published=None)
    KnowledgeVersion.objects.filter(article__code__in=codes).delete()
    articles.delete()
    return {"orders": len(ids), "articles": n_articles}


EVENT_FIELDS = ["order", "action", "from_status", "to_status", "actor", "actor_label", "at", "note", "data"]
DEADLINE_FIELDS = [
    "name",
    "amount",
    "unit",
    "starts_at",
    "due_at",
    "provisional",
    "met_at",
    "warned_at",
    "escalated_at",
]


def _insert_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """INSERT `rows` (values of `fields`, in order) with executemany: no model instances, so twenty thousand
    events take well under a second. Date-times and JSON are adapted as the ORM would for this database."""
    from django.db import connection

    cols = [model._meta.get_field(f) for f in fields]
    adapt = []
    for f in cols:
        kind = f.get_internal_type()
        if kind == "DateTimeField":
            adapt.append(connection.ops.adapt_datetimefield_value)
        elif kind == "JSONField":
            adapt.append(lambda v, f=f: f.get_db_prep_save(v, connection))
        else:
            adapt.append(None)
    qn = connection.ops.quote_name
    table, names, marks = (
        qn(model._meta.db_table),
        ", ".join(qn(f.column) for f in cols),
        ", ".join(["%s"] * len(cols)),
    )
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 — the model's own table and columns
    with connection.cursor() as cur:
        for i in range(0, len(rows), 5000):
            cur.executemany(
                sql,
                [
                    tuple(
                        a(v) if a is not None and v is not None else v for a, v in zip(adapt, r, strict=True)
                    )
                    for r in rows[i : i + 5000]
                ],
            )


def _write_orders(b: _Builder) -> dict[str, int]:
    for o in b.orders:
        b.settle(o)
    b.orders.sort(key=lambda o: (o.received_at, o.unit_id, o.order_type))
    seq: dict[date, int] = defaultdict(int)
    for o in b.orders:
        day = o.received_at.astimezone(CHINA).date()
        seq[day] += 1
        o.number = f"{day:%Y%m%d}9{seq[day]:07d}"
    rows = []
    for o in b.orders:
        f = o.fields
        rows.append(
            WorkOrder(
                number=o.number,
                order_type=o.order_type,
                sub_type=o.sub_type,
                channel=o.channel,
                status=o.status,
                priority=o.priority,
                unit_id=o.unit_id,
                account_id=o.acct.id if o.acct else None,
                transformer_area_id=o.ta_id,
                caller_name=o.caller_name[:50],
                phone=o.phone[:20],
                address=o.address[:200],
                area=o.area,
                description=o.description,
                received_at=o.received_at,
                received_entered=o.received_entered,
                created_by_id=o.created_by,
                assignee_id=o.assignee if o.status not in (Step.CREATED, Step.ACCEPTED) else None,
                triage=o.triage,
                outage_id=o.outage_id,
                escalation_level=f["escalation_level"],
                chase_count=f["chase_count"],
                reopen_count=f["reopen_count"],
                substantiated=f["substantiated"] if o.order_type == OrderType.COMPLAINT else None,
                fault_cause=f["fault_cause"][:200],
                resolution=f["resolution"],
                arrived_at=f["arrived_at"],
                resolved_at=f["resolved_at"],
                closed_at=f["closed_at"],
                callback_result=f["callback_result"],
                callback_note=f["callback_note"][:500],
                callback_at=f["callback_at"],
                customer_rating=f["customer_rating"],
                customer_comment=f["customer_comment"][:500],
                customer_user_id=o.customer_user,
                demo=True,
            )
        )
    WorkOrder.objects.bulk_create(rows, batch_size=500)
    by_obj = {id(o): row for o, row in zip(b.orders, rows, strict=True)}
    merged = []
    for o, row in zip(b.orders, rows, strict=True):
        if o.merge_into is not None and o.status == Step.MERGED:
            row.merged_into_id = by_obj[id(o.merge_into)].pk
            merged.append(row)
    WorkOrder.objects.bulk_update(merged, ["merged_into"], batch_size=500)
    events, deadlines = [], []
    for o, row in zip(b.orders, rows, strict=True):
        status = ""
        for e in o.events:
            data = dict(e.data)
            before = data.pop("_from", None)
            if e.action == "merge" and o.merge_into is not None:
                data["into"] = o.merge_into.number
            to = e.to or status
            events.append(
                (
                    row.pk,
                    e.action,
                    before if before is not None else status,
                    to if before is None else before,
                    e.actor,
                    e.label[:60],
                    e.at,
                    e.note,
                    data,
                )
            )
            if before is None:
                status = to
        deadlines += [(row.pk, *(d[k] for k in DEADLINE_FIELDS)) for d in o.deadlines]
    _insert_rows(WorkOrderEvent, EVENT_FIELDS, events)
    _insert_rows(WorkOrderDeadline, ["order", *DEADLINE_FIELDS], deadlines)
    # Registered when received; letters when staff entered them (the next working day).
    WorkOrder.objects.filter(demo=True).update(created_at=F("received_at"))
    entered = []
    for o, row in zip(b.orders, rows, strict=True):
        if o.entered_at is not None:
            row.created_at = o.entered_at
            entered.append(row)
    WorkOrder.objects.bulk_update(entered, ["created_at"], batch_size=500)
    now = b.now
    open_rows = [o for o in b.orders if o.status not in lifecycle.TERMINAL]
    return {
        "orders": len(rows),
        "events": len(events),
        "deadlines": len(deadlines),
        "open": len(open_rows),
        "overdue": sum(
            1 for o in open_rows if any(d["met_at"] is None and d["due_at"] < now for d in o.deadlines)
        ),
        "warned": sum(
            1
            for o in open_rows
            if any(d["met_at"] is None and d["warned_at"] and d["due_at"] >= now for d in o.deadlines)
        ),
        "merged": sum(1 for o in b.orders if o.status == Step.MERGED),
        "outage_linked": sum(1 for o in b.orders if o.outage_id),
        "reopened": sum(1 for o in b.orders if o.fields["reopen_count"]),
    }


def _write_kb(rng: random.Random, now: datetime) -> dict[str, int]:
    """The demo articles with their versions: drafted by the agent or the customer manager, approved (or sent
    back) by the manager."""
    authors = [u for u in (_staff_user("agent"), _staff_user("cmanager")) if u is not None]
    reviewer = _staff_user("manager")
    articles, versions = [], []
    for i, spec in enumerate(ARTICLES):
        author = authors[i % len(authors)] if authors else None
        paragraphs = spec.body.split("\n\n")
        history: list[tuple[str, str, str]] = []  # (body, status, review note)
        if spec.revised and len(paragraphs) > 1:
            history.append(("\n\n".join(paragraphs[:-1]), "approved", ""))
        if spec.rejected:
            history.append((spec.body.replace("。", "；", 1), "rejected", spec.rejected))
        history.append((spec.body, "approved", "同意发布"))
        if spec.pending:
            history.append((spec.body + "\n\n" + spec.pending, "pending", ""))
        start = now - timedelta(days=rng.randint(200, 360), hours=rng.randint(0, 8))
        step = (now - start) / (len(history) + 1)
        art = KnowledgeArticle(code=spec.code, category=spec.category, title=spec.title)
        articles.append(art)
        rows = []
        for v, (body, status, note) in enumerate(history, start=1):
            created = start + step * (v - 1) + timedelta(hours=rng.randint(1, 48))
            reviewed = created + timedelta(hours=rng.randint(2, 30)) if status != "pending" else None
            rows.append(
                (
                    art,
                    KnowledgeVersion(
                        version=v,
                        title=spec.title,
                        body=body,
                        keywords=spec.keywords,
                        status=status,
                        author=author,
                        reviewer=reviewer if status != "pending" else None,
                        review_note=note,
                        reviewed_at=reviewed,
                    ),
                    created,
                )
            )
        versions.append(rows)
    KnowledgeArticle.objects.bulk_create(articles)
    flat = []
    for art, rows in zip(articles, versions, strict=True):
        for _a, v, _c in rows:
            v.article = art
            flat.append(v)
    KnowledgeVersion.objects.bulk_create(flat)
    created_at = []
    for art, rows in zip(articles, versions, strict=True):
        art.published = [v for _a, v, _c in rows if v.status == "approved"][-1]
        art.created_at = rows[0][2]
        for _a, v, c in rows:
            v.created_at = c
            created_at.append(v)
    KnowledgeArticle.objects.bulk_update(articles, ["published", "created_at"])
    KnowledgeVersion.objects.bulk_update(created_at, ["created_at"])
    return {
        "articles": len(articles),
        "versions": len(flat),
        "pending_versions": sum(1 for v in flat if v.status == "pending"),
    }


def demo_service(*, today: date, seed: int = 42, now: datetime | None = None, replace: bool = False) -> dict:
    """Build the demo orders and knowledge base as of `today` (see the module docstring); counts, what was
    replaced and the seconds taken. Parts already there are left alone unless `replace`."""
    t0 = clock.monotonic()
    now = now or demo_clock(today)[1]
    counts: dict[str, Any] = {}
    with transaction.atomic():
        replaced = delete_demo() if replace else {"orders": 0, "articles": 0}
        if not WorkOrder.objects.filter(demo=True).exists():
            b = _Builder(today=today, seed=seed, now=now)
            b.build()
            if b.orders:
                counts.update(_write_orders(b))
        if not KnowledgeArticle.objects.filter(code__in=[a.code for a in ARTICLES]).exists():
            counts.update(_write_kb(random.Random(seed * 7 + 1), now))
        if counts:
            audit_record(
                actor=Actor(channel=Channel.JOB),
                action="demo.service",
                object_type="demo",
                object_id=str(seed),
                changes={"today": today.isoformat(), "seed": seed, "replaced": replaced["orders"], **counts},
            )
    counts["replaced"] = replaced
    counts["seconds"] = round(clock.monotonic() - t0, 2)
    return counts
