"""Deterministic demo meter reading: reading routes (抄表段) per station and monthly AMI reads.

`seed_readings(months=N, end=(y, m), seed=S, today=D)` (`end` default: the last complete month before `today`,
default the real date):
- Routes: for every station (供电所) with active accounts that are on no route yet, the accounts are put on
  routes of ROUTE_SIZE in 户号 order (existing routes of the station are filled up first). A route is
  coded "R311-01" (the station's 户号 prefix), named "城关供电所第1抄表段", its reading day spread over
  1–25, its reader a meter reader of the station (or of its bureau) when there is one.
- Reads: for each active account's current meter, one read per month for the N months ending at `end`, on
  the route's reading day at 09:00 Beijing time, plus an initial read one month before (consumption 0)
  when the meter has no earlier read. Months that already have a read for the meter are skipped; the next
  generated read continues from the stored registers. Register values are cumulative, wrap at
  10**digits, and the TOU registers (尖峰平谷) split every advance exactly; consumption = advance × 倍率.

Values come from `random.Random` seeded per meter, so the same seed and window give the same reads.
Rows are generated as integer hundredths of a kWh and written with COPY on PostgreSQL (one transaction)
and `executemany` in chunks on SQLite (memberships with `bulk_create`). For a large load on PostgreSQL the secondary indexes and foreign keys
of the read table are dropped during the COPY and rebuilt after it (as the customer seed does).
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.clock import demo_clock
from gridcare.core.permissions import Role
from gridcare.customers.choices import AccountStatus, CustomerClass
from gridcare.customers.demo import _pg_drop_secondary, _pg_restore_secondary, forked_items
from gridcare.customers.models import Account, Customer, Meter, ServicePoint
from gridcare.org.choices import UnitLevel
from gridcare.org.models import SupplyUnit, User

from .choices import ReadSource, ReadStatus
from .models import MeterRead, Route, RouteMembership

ROUTE_SIZE = 1000
READ_HOUR = 9
BEIJING = ZoneInfo("Asia/Shanghai")
CHUNK = 50_000  # meters per generated chunk
DROP_INDEXES_FROM = 200_000  # PostgreSQL: new reads from which indexes are rebuilt rather than maintained

# Seasonal factors, January first.
RES_SEASON = (1.35, 1.3, 1.0, 0.85, 0.82, 1.0, 1.45, 1.5, 1.05, 0.85, 0.92, 1.2)
COM_SEASON = (1.05, 0.85, 0.95, 0.95, 1.0, 1.1, 1.25, 1.25, 1.05, 0.95, 0.95, 1.05)
IND_SEASON = (1.0, 0.82, 1.0, 1.02, 1.02, 1.0, 1.04, 1.04, 1.02, 1.0, 1.0, 1.02)
AGR_SEASON = (0.25, 0.3, 0.8, 1.6, 1.9, 1.7, 1.4, 1.3, 0.7, 0.5, 0.4, 0.3)
# Class → (low kWh, high kWh, seasonal factors); the TOU split (尖, 峰, 平, 谷) in per mille.
PROFILES = {
    CustomerClass.RESIDENTIAL: (80, 400, RES_SEASON),
    CustomerClass.COMMERCIAL: (500, 5_000, COM_SEASON),
    CustomerClass.LARGE_INDUSTRY: (50_000, 500_000, IND_SEASON),
    CustomerClass.AGRICULTURAL: (100, 3_000, AGR_SEASON),
}
TOU_SPLIT = {
    CustomerClass.RESIDENTIAL: (0, 620, 0, 380),
    CustomerClass.COMMERCIAL: (100, 350, 350, 200),
    CustomerClass.LARGE_INDUSTRY: (80, 300, 320, 300),
    CustomerClass.AGRICULTURAL: (0, 400, 300, 300),
}

COLUMNS = (
    "meter_id",
    "account_id",
    "unit_id",
    "read_at",
    "total",
    "sharp",
    "peak",
    "flat",
    "valley",
    "reactive",
    "max_demand",
    "consumption",
    "kwh_sharp",
    "kwh_peak",
    "kwh_flat",
    "kwh_valley",
    "kvarh",
    "demand_kw",
    "source",
    "status",
    "flags",
    "created_at",
    "entered_by_id",
)
REGS = ("total", "sharp", "peak", "flat", "valley", "reactive")  # the cumulative registers a state carries


@dataclass(slots=True)
class MeterInfo:
    meter_id: int
    account_id: int
    unit_id: int
    digits: int
    multiplier: int
    has_tou: bool
    customer_class: str
    reading_day: int
    installed_on: date


@dataclass
class ReadingsResult:
    routes: int
    memberships: int
    reads: int
    meters: int
    elapsed: float


def last_complete_month(today: date | None = None) -> tuple[int, int]:
    today = today or timezone.localdate()
    first = today.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def _add_months(y: int, m: int, k: int) -> tuple[int, int]:
    n = y * 12 + (m - 1) + k
    return n // 12, n % 12 + 1


def _read_at(y: int, m: int, day: int) -> datetime:
    return datetime.combine(date(y, m, day), dtime(READ_HOUR), tzinfo=BEIJING)


def _fallback_day(account_id: int) -> int:
    return 1 + account_id % 25


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def _station_prefixes(stations: list[SupplyUnit]) -> dict[int, str]:
    """The 户号 prefix per station ("311"), or the unit code when prefixes are ambiguous."""
    prefixes = {}
    for s in stations:
        first = (
            Account.objects.filter(unit=s)
            .order_by("account_number")
            .values_list("account_number", flat=True)
            .first()
        )
        prefixes[s.pk] = (first or "")[:3]
    values = list(prefixes.values())
    for s in stations:
        if not prefixes[s.pk] or values.count(prefixes[s.pk]) > 1:
            prefixes[s.pk] = s.code
    return prefixes


def _reader_for(station: SupplyUnit) -> int | None:
    for unit_id in (station.pk, station.parent_id):
        if unit_id is None:
            continue
        uid = (
            User.objects.filter(role=Role.METER_READER, unit_id=unit_id, is_active=True)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if uid is not None:
            return uid
    return None


def ensure_routes(
    progress: Callable[[str], None] = lambda s: None,
    before_write: Callable[[], None] = lambda: None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Routes and memberships for every active account of a station that is on no route. Returns counts.

    `before_write` runs after the routes are created and before the memberships are written."""
    t0 = time.monotonic()
    a = Account._meta.db_table
    rm = RouteMembership._meta.db_table
    su = SupplyUnit._meta.db_table
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT a.unit_id, a.id FROM {q(a)} a JOIN {q(su)} u ON u.id = a.unit_id "  # noqa: S608
            f"WHERE a.status = %s AND u.level = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {q(rm)} m WHERE m.account_id = a.id) "
            f"ORDER BY a.unit_id, a.account_number",
            [AccountStatus.ACTIVE, UnitLevel.STATION],
        )
        rows = cur.fetchall()
    if not rows:
        before_write()
        return 0, 0
    by_station: dict[int, list[int]] = {}
    for unit_id, account_id in rows:
        by_station.setdefault(unit_id, []).append(account_id)
    stations = list(SupplyUnit.objects.filter(pk__in=by_station).order_by("path"))
    all_stations = list(SupplyUnit.objects.filter(level=UnitLevel.STATION).order_by("path"))
    prefixes = _station_prefixes(all_stations)
    station_index = {s.pk: k for k, s in enumerate(all_stations)}
    now = now or timezone.now()
    new_routes = 0
    memberships: list[tuple[int, int, int]] = []  # (account_id, route_id, sequence)
    for station in stations:
        accounts = by_station[station.pk]
        prefix = prefixes[station.pk]
        reader_id = _reader_for(station)
        # Fill the station's existing routes first, then open new ones.
        existing = list(Route.objects.filter(unit=station).order_by("code"))
        fill = []
        for route in existing:
            members = route.memberships.count()
            top = route.memberships.order_by("-sequence").values_list("sequence", flat=True).first() or 0
            if members < ROUTE_SIZE:
                fill.append((route.pk, ROUTE_SIZE - members, top))
        pos = 0
        for route_id, room, top in fill:
            take = accounts[pos : pos + room]
            memberships.extend((acc, route_id, top + k + 1) for k, acc in enumerate(take))
            pos += len(take)
        number = len(existing)
        taken_codes = set(Route.objects.filter(code__startswith=f"R{prefix}-").values_list("code", flat=True))
        while pos < len(accounts):
            number += 1
            code = f"R{prefix}-{number:02d}"
            while code in taken_codes:
                number += 1
                code = f"R{prefix}-{number:02d}"
            day = 1 + (station_index.get(station.pk, 0) * 3 + (number - 1) * 7) % 25
            route = Route.objects.create(
                code=code,
                name=f"{station.name}第{number}抄表段",
                unit=station,
                reading_day=day,
                reader_id=reader_id,
                created_at=now,
            )
            new_routes += 1
            take = accounts[pos : pos + ROUTE_SIZE]
            memberships.extend((acc, route.pk, k + 1) for k, acc in enumerate(take))
            pos += len(take)
    before_write()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            with cur.cursor.copy(f"COPY {q(rm)} (account_id, route_id, sequence) FROM STDIN") as copy:
                for start in range(0, len(memberships), 100_000):
                    part = memberships[start : start + 100_000]
                    copy.write("".join(f"{a}\t{r}\t{s}\n" for a, r, s in part).encode())
    else:
        RouteMembership.objects.bulk_create(
            (RouteMembership(account_id=a, route_id=r, sequence=s) for a, r, s in memberships),
            batch_size=5000,
        )
    progress(
        f"  {new_routes:,} new routes, {len(memberships):,} accounts put on routes ({time.monotonic() - t0:.1f}s)"
    )
    return new_routes, len(memberships)


# ---------------------------------------------------------------------------------------------
# Reads
# ---------------------------------------------------------------------------------------------


def _meters() -> list[MeterInfo]:
    """Active accounts' current meters with the class of the holder and the route's reading day."""
    q = connection.ops.quote_name
    m, sp, a, c = (q(x._meta.db_table) for x in (Meter, ServicePoint, Account, Customer))
    rm, r = q(RouteMembership._meta.db_table), q(Route._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT m.id, a.id, a.unit_id, m.digits, m.multiplier, m.has_tou, c.customer_class, r.reading_day, "  # noqa: S608
            f"m.installed_on FROM {m} m JOIN {sp} sp ON sp.id = m.service_point_id "
            f"JOIN {a} a ON a.id = sp.account_id JOIN {c} c ON c.id = a.customer_id "
            f"LEFT JOIN {rm} rm ON rm.account_id = a.id LEFT JOIN {r} r ON r.id = rm.route_id "
            f"WHERE m.removed_on IS NULL AND a.status = %s ORDER BY m.id",
            [AccountStatus.ACTIVE],
        )
        rows = cur.fetchall()
    out = []
    for mid, aid, uid, digits, mult, tou, cls, day, inst in rows:
        if isinstance(inst, str):
            inst = date.fromisoformat(inst)
        out.append(MeterInfo(mid, aid, uid, digits, mult, bool(tou), cls, day or _fallback_day(aid), inst))
    return out


def _cents(v) -> int | None:
    return None if v is None else int(Decimal(v) * 100)


def _existing(window_start: datetime, window_end: datetime) -> tuple[dict, dict]:
    """Stored reads that matter: per meter the months of the window already read (with the latest registers
    of each), and the latest read before the window."""
    in_window: dict[int, dict[tuple[int, int], tuple]] = {}
    before: dict[int, tuple] = {}
    if not MeterRead.objects.exists():
        return in_window, before
    regs = REGS
    q = connection.ops.quote_name
    t = q(MeterRead._meta.db_table)
    if connection.vendor == "postgresql":
        # Plain integers from the server: a million Decimals and aware datetimes cost seconds in Python.
        cents = ", ".join(f"({r} * 100)::bigint" for r in regs)
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT meter_id, EXTRACT(year FROM read_at AT TIME ZONE %s)::int, "  # noqa: S608
                f"EXTRACT(month FROM read_at AT TIME ZONE %s)::int, {cents} FROM {t} "
                f"WHERE read_at >= %s AND read_at < %s ORDER BY meter_id, read_at",
                [BEIJING.key, BEIJING.key, window_start, window_end],
            )
            for mid, y, m, *values in cur.fetchall():
                in_window.setdefault(mid, {})[(y, m)] = tuple(values)
    rows = (
        ()
        if connection.vendor == "postgresql"
        else (
            MeterRead.objects.filter(read_at__gte=window_start, read_at__lt=window_end)
            .order_by("meter_id", "read_at")
            .values_list("meter_id", "read_at", *regs)
            .iterator(chunk_size=20_000)
        )
    )
    for mid, at, *values in rows:
        local = at.astimezone(BEIJING)
        in_window.setdefault(mid, {})[(local.year, local.month)] = tuple(_cents(v) for v in values)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT r.meter_id, r.total, r.sharp, r.peak, r.flat, r.valley, r.reactive FROM {t} r "  # noqa: S608
            f"JOIN (SELECT meter_id, max(read_at) AS at FROM {t} WHERE read_at < %s GROUP BY meter_id) l "
            f"ON l.meter_id = r.meter_id AND l.at = r.read_at",
            [window_start],
        )
        for mid, *values in cur.fetchall():
            before[mid] = tuple(_cents(v) for v in values)
    return in_window, before


def generate(
    meters: list[MeterInfo],
    months: list[tuple[int, int]],  # the initial month first, then the N periods
    seed: int,
    in_window: dict,
    before: dict,
) -> Iterator[list[tuple]]:
    """Rows (meter, account, unit, (y, m, day), total, sharp, peak, flat, valley, reactive, max_demand,
    consumption, kwh_sharp, kwh_peak, kwh_flat, kwh_valley, kvarh, demand_kw), numbers in hundredths.

    One `random.Random(seed)` draws a fixed number of values per meter in meter order, so the same meters,
    window and seed give the same rows (whichever months are skipped). Large-industry meters also carry a
    reactive register (tan φ 0.30–0.75, i.e. a power factor of about 0.80–0.96) and a maximum-demand register
    (the month's kWh over 720 h at a load factor of 0.45–0.75)."""
    rand = random.Random(seed).random
    n_draws = len(months)
    first_day = date(months[0][0], months[0][1], 1)
    default_profile = PROFILES[CustomerClass.RESIDENTIAL]
    default_split = TOU_SPLIT[CustomerClass.RESIDENTIAL]
    no_tou = (None, None, None, None)
    no_derived = (None, None, None, None, None, None)
    chunk: list[tuple] = []
    append = chunk.append
    for mi in meters:
        r_level, r_s, r_p, r_f, r_start = rand(), rand(), rand(), rand(), rand()
        noise = [0.88 + rand() * 0.24 for _ in range(n_draws)]
        cls = mi.customer_class
        low, high, season = PROFILES.get(cls, default_profile)
        # Level: log-uniform over the range; seasonal factors and noise give the rest (a few residential
        # households reach tier 3 over a year).
        level = low * (high / low) ** r_level
        base = TOU_SPLIT.get(cls, default_split)
        sh = base[0] + int((r_s * 2 - 1) * (base[0] // 8))
        pk = base[1] + int((r_p * 2 - 1) * (base[1] // 8))
        fl = base[2] + int((r_f * 2 - 1) * (base[2] // 8))
        span = 10**mi.digits * 100
        mult = mi.multiplier
        tou_meter = mi.has_tou
        reactive_meter = cls == CustomerClass.LARGE_INDUSTRY
        tan_phi = 300 + int(r_f * 450)  # per mille, reused draw: the draw count per meter stays fixed
        load_factor = 0.45 + r_s * 0.3
        have = in_window.get(mi.meter_id)
        state = before.get(mi.meter_id)
        if state is not None and ((tou_meter and state[1] is None) or (reactive_meter and state[5] is None)):
            state = None  # previous read without TOU or reactive registers: start afresh
        check_installed = mi.installed_on > first_day
        day = mi.reading_day
        for k, (y, m) in enumerate(months):
            if have is not None and (y, m) in have:
                state = have[(y, m)]
                continue
            if check_installed and date(y, m, day) < mi.installed_on:
                continue
            if state is None:
                total = int(r_start * (span // 100)) * 100  # start value, whole kWh
                reactive = total * tan_phi // 1000 % span if reactive_meter else None
                if tou_meter:
                    a, b, c = total * sh // 1000, total * pk // 1000, total * fl // 1000
                    state = (total, a, b, c, total - a - b - c, reactive)
                else:
                    state = (total, *no_tou, reactive)
                derived = (0, 0, 0, 0) if tou_meter else no_tou
                append(
                    (
                        mi.meter_id,
                        mi.account_id,
                        mi.unit_id,
                        (y, m, day),
                        *state,
                        None,
                        0,
                        *derived,
                        0 if reactive_meter else None,
                        None,
                    )
                )
                continue
            kwh = level * season[m - 1] * noise[k]
            kwh = low * 0.5 if kwh < low * 0.5 else high * 1.5 if kwh > high * 1.5 else kwh
            advance = math.ceil(kwh * 100 / mult)  # consumption = advance × 倍率 stays ≥ the floor
            total = (state[0] + advance) % span
            kwh_c = advance * mult
            if reactive_meter:
                r_adv = advance * tan_phi // 1000
                reactive = (state[5] + r_adv) % span
                demand_reg = math.ceil(kwh_c / (720 * load_factor) / mult)
                extra = (r_adv * mult, demand_reg * mult)
            else:
                reactive = demand_reg = None
                extra = (None, None)
            if tou_meter:
                a, b, c = advance * sh // 1000, advance * pk // 1000, advance * fl // 1000
                v = advance - a - b - c
                state = (
                    total,
                    (state[1] + a) % span,
                    (state[2] + b) % span,
                    (state[3] + c) % span,
                    (state[4] + v) % span,
                    reactive,
                )
                derived = (a * mult, b * mult, c * mult, v * mult, *extra)
            else:
                state = (total, *no_tou, reactive)
                derived = (*no_tou, *extra) if reactive_meter else no_derived
            append((mi.meter_id, mi.account_id, mi.unit_id, (y, m, day), *state, demand_reg, kwh_c, *derived))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
            append = chunk.append
    if chunk:
        yield chunk


class _PgReadWriter:
    def __init__(self, created_at: datetime) -> None:
        q = connection.ops.quote_name
        cols = ", ".join(q(c) for c in COLUMNS)
        self.sql = f"COPY {q(MeterRead._meta.db_table)} ({cols}) FROM STDIN"
        self.tail = (
            f"\t{ReadSource.AMI}\t{ReadStatus.VALID}\t[]\t{created_at.astimezone(UTC).isoformat()}\t\\N\n"
        )
        self.stamps: dict[tuple[int, int, int], str] = {}

    def stamp(self, ymd: tuple[int, int, int]) -> str:
        s = self.stamps.get(ymd)
        if s is None:
            s = self.stamps[ymd] = _read_at(*ymd).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        return s

    def encode(self, rows: list[tuple]) -> tuple[bytes, int]:
        """COPY text; registers in hundredths are written as `12345e-2` (numeric input takes exponents)."""
        stamp, tail = self.stamp, self.tail
        out = []
        append = out.append
        for mid, aid, uid, ymd, *numbers in rows:
            values = "\t".join("\\N" if v is None else f"{v}e-2" for v in numbers)
            append(f"{mid}\t{aid}\t{uid}\t{stamp(ymd)}\t{values}{tail}")
        return "".join(out).encode(), len(rows)

    def write(self, data: bytes) -> None:
        with connection.cursor() as cur, cur.cursor.copy(self.sql) as copy:
            copy.write(data)


def _producer(args: tuple, conn) -> None:
    """Child process: generate and encode chunks of COPY text for the parent; errors travel too."""
    try:
        meters, window, seed, in_window, before, created_at = args
        writer = _PgReadWriter(created_at)
        for rows in generate(meters, window, seed, in_window, before):
            conn.send(writer.encode(rows))
        conn.send(None)
    except BaseException as e:  # noqa: BLE001 — reported to the parent, which raises
        conn.send(RuntimeError(f"read generator failed: {e!r}"))
    finally:
        conn.close()


def _forked(meters, window, seed, in_window, before, created_at) -> Iterator[tuple[bytes, int]]:
    return forked_items(_producer, (meters, window, seed, in_window, before, created_at))


def _num(v: int | None) -> str | None:
    return None if v is None else f"{v // 100}.{v % 100:02d}"


class _SqliteReadWriter:
    """`executemany` of plain values in the transaction: `bulk_create` spends ~7 s of ORM value preparation
    on 65,000 reads, this takes well under one."""

    def __init__(self, created_at: datetime) -> None:
        q = connection.ops.quote_name
        cols = ", ".join(q(c) for c in COLUMNS)
        marks = ", ".join("%s" for _ in COLUMNS)
        self.sql = f"INSERT INTO {q(MeterRead._meta.db_table)} ({cols}) VALUES ({marks})"  # noqa: S608
        self.created = connection.ops.adapt_datetimefield_value(created_at)
        self.stamps: dict[tuple[int, int, int], str] = {}

    def stamp(self, ymd: tuple[int, int, int]) -> str:
        s = self.stamps.get(ymd)
        if s is None:
            s = self.stamps[ymd] = connection.ops.adapt_datetimefield_value(_read_at(*ymd))
        return s

    def write(self, rows: list[tuple]) -> None:
        stamp, created = self.stamp, self.created
        tail = (ReadSource.AMI.value, ReadStatus.VALID.value, "[]", created, None)
        values = [(r[0], r[1], r[2], stamp(r[3]), *(_num(v) for v in r[4:]), *tail) for r in rows]
        with connection.cursor() as cur:
            cur.executemany(self.sql, values)


def seed_readings(
    *,
    months: int,
    end: tuple[int, int] | None = None,
    seed: int = 42,
    drop_indexes: bool | None = None,
    fork: bool | None = None,
    progress: Callable[[str], None] = lambda s: None,
    today: date | None = None,
) -> ReadingsResult:
    """Routes, memberships and N months of reads (plus an initial read) in one transaction, ending with
    `end` (default: the last complete month before `today`, default the real date; see core.clock)."""
    if months < 1:
        raise ValueError("months must be at least 1")
    t0 = time.monotonic()
    today, now = demo_clock(today)
    end = end or last_complete_month(today)
    first = _add_months(*end, -(months - 1))
    window = [_add_months(*first, k - 1) for k in range(months + 1)]  # initial month, then the periods
    window_start = datetime(window[0][0], window[0][1], 1, tzinfo=BEIJING)
    after = _add_months(*end, 1)
    window_end = datetime(after[0], after[1], 1, tzinfo=BEIJING)
    pg = connection.vendor == "postgresql"
    if fork is None:
        fork = pg and "fork" in multiprocessing.get_all_start_methods()
    created_at = now
    total_reads = 0
    with transaction.atomic():
        if pg:
            with connection.cursor() as cur:  # one seeding at a time
                cur.execute(f"LOCK TABLE {connection.ops.quote_name(Route._meta.db_table)} IN EXCLUSIVE MODE")
                cur.execute("SET LOCAL work_mem = '256MB'")  # the million-row joins and sorts stay in memory
        saved = None
        tables = [RouteMembership._meta.db_table, MeterRead._meta.db_table]

        def before_write() -> None:
            nonlocal saved, drop_indexes
            if not pg:
                return
            if drop_indexes is None:
                # Cheap estimate of the reads to come against what the read table holds already.
                with connection.cursor() as cur:
                    cur.execute(
                        "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                        [tables[1]],
                    )
                    existing_rows = cur.fetchone()[0]
                expected = Account.objects.filter(status=AccountStatus.ACTIVE).count() * len(window)
                if existing_rows:
                    expected -= MeterRead.objects.filter(
                        read_at__gte=window_start, read_at__lt=window_end
                    ).count()
                drop_indexes = expected >= DROP_INDEXES_FROM and expected >= existing_rows
            if drop_indexes:
                saved = _pg_drop_secondary(tables, tables)

        routes, members = ensure_routes(progress, before_write, now=now)
        t1 = time.monotonic()
        meters = _meters()
        in_window, before = _existing(window_start, window_end)
        progress(f"  {len(meters):,} meters to read, existing reads loaded ({time.monotonic() - t1:.1f}s)")
        if pg:
            t1 = time.monotonic()
            writer = _PgReadWriter(created_at)
            source = (
                _forked(meters, window, seed, in_window, before, created_at)
                if fork
                else (writer.encode(rows) for rows in generate(meters, window, seed, in_window, before))
            )
            for data, n in source:
                writer.write(data)
                total_reads += n
            progress(f"  {total_reads:,} reads written ({time.monotonic() - t1:.1f}s)")
            if saved is not None:
                _pg_restore_secondary(saved, progress)
        else:
            writer = _SqliteReadWriter(created_at)
            for rows in generate(meters, window, seed, in_window, before):
                writer.write(rows)
                total_reads += len(rows)
        elapsed = time.monotonic() - t0
        audit_record(
            actor=Actor(channel=Channel.JOB),
            action="demo.seed_readings",
            object_type="demo",
            object_id=str(seed),
            changes={
                "seed": seed,
                "months": months,
                "end": f"{end[0]:04d}-{end[1]:02d}",
                "routes": routes,
                "memberships": members,
                "meters": len(meters),
                "reads": total_reads,
                "elapsed_s": round(elapsed, 1),
            },
        )
    if pg and total_reads >= DROP_INDEXES_FROM:
        with connection.cursor() as cur:
            cur.execute(
                f"ANALYZE {connection.ops.quote_name(MeterRead._meta.db_table)}, "
                f"{connection.ops.quote_name(RouteMembership._meta.db_table)}"
            )
    return ReadingsResult(routes, members, total_reads, len(meters), time.monotonic() - t0)
