"""Demo voltage readings (issue 14 "a year of hourly voltage readings per transformer area").

`demo_voltage(*, today, areas=None, seed=42) -> int` covers the 365 days before `today` (China time) for every
area's monitoring point (nominal 220 V).

A full year of hourly rows per area when that is at most `hourly_rows_max` rows (default 400,000: `make run`'s
5,000 customers have 35 areas, 306,600 rows, ≈ 4 s on SQLite). Above it — 250 areas would be ≈ 2.2 M rows, and SQLite
with the table's three indexes inserts ≈ 45–90 k rows/s here (2.19 M rows took 74 s), far above the ~10 s budget —
the fallback: hourly rows for the last three months only — from the
first of the month two months before `today`'s to `today` 00:00 (≈ 92 days × 24 ≈ 550 k rows at demo scale,
a few seconds), refreshed into `VoltageMonthly` with `voltage_monthly_refresh` — and `VoltageMonthly` is
written directly for the earlier months of the year (every hour read; a handful out of limits, or ~85 % of the
summer evening hours for a weak area). A later `voltage_monthly_refresh` of one of those earlier months would
find no readings and remove its row: the nightly job only refreshes the current and previous month.

Values are plain integer arithmetic in tenths of a volt (an area offset 224.0–227.9 V + an hour-of-day load
profile + noise σ 2.2 V from a seeded table), inserted with `executemany` in chunks of 50,000 in one
transaction. About one rural/remote area in twelve (at least one when there is any) is "weak": on summer
evenings (June–August, 18:00–22:59) it sags to about 196 V, so its summer months fall below the 95 % rural
target and the below-target list means something. Re-running replaces that year's data of those areas."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from gridcare.customers.models import TransformerArea

from .models import VoltageMonthly, VoltageReading
from .voltage import voltage_monthly_refresh

CHINA = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
DAYS = 365
CHUNK = 50_000
NOISE_SIZE = 8_191
# Hour-of-day load profile in tenths of a volt: lower in the evening peak, higher at night.
PROFILE = [12, 14, 15, 15, 14, 12, 6, 0, -4, -6, -6, -8, -8, -6, -6, -6, -8, -12, -18, -22, -22, -18, -8, 4]


def _weak(areas: list[TransformerArea], rng: random.Random) -> set[int]:
    rural = [a.pk for a in areas if a.area_type in ("rural", "remote")]
    if not rural:
        return set()
    return set(rng.sample(rural, max(1, len(rural) // 12)))


def _month_starts(first: date, last: date) -> list[date]:
    """First days of the months from `first`'s to `last`'s, inclusive."""
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


HOURLY_ROWS_MAX = 400_000


def hourly_start(today: date, areas: int | None = None, hourly_rows_max: int = HOURLY_ROWS_MAX) -> date:
    """The first day with hourly rows: 365 days back when `areas` × 8,760 fits `hourly_rows_max`, else the first of
    the month two months before `today`'s month."""
    if areas is not None and areas * DAYS * 24 <= hourly_rows_max:
        return today - timedelta(days=DAYS)
    m = today.replace(day=1)
    for _ in range(2):
        m = (m - timedelta(days=1)).replace(day=1)
    return max(m, today - timedelta(days=DAYS))


def _monthly_only(area_list, weak: set[int], *, first: date, until: date, rng: random.Random) -> list:
    """`VoltageMonthly` rows for the days [first, until) without hourly rows: every hour read; a handful out of
    limits in a normal area, ~85 % of the summer evening hours (18:00–22:59) out in a weak one."""
    rows = []
    for m in _month_starts(first, until - timedelta(days=1)):
        nxt = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        days = (min(nxt, until) - max(m, first)).days
        for a in area_list:
            out = rng.randrange(0, 3)
            if a.pk in weak and 6 <= m.month <= 8:
                out += round(days * 5 * 0.85)
            rows.append(
                VoltageMonthly(
                    transformer_area_id=a.pk,
                    unit_id=a.unit_id,
                    month=m,
                    hours_read=days * 24,
                    hours_ok=days * 24 - min(out, days * 24),
                )
            )
    return rows


def demo_voltage(*, today: date, areas=None, seed: int = 42, hourly_rows_max: int = HOURLY_ROWS_MAX) -> int:
    """Write the year of voltage data for `areas` (default every transformer area): hourly rows from
    `hourly_start(today)`, monthly rates before; returns the hourly rows written."""
    rng = random.Random(seed)
    area_list = sorted(areas if areas is not None else TransformerArea.objects.all(), key=lambda a: a.code)
    if not area_list:
        return 0
    first_day = today - timedelta(days=DAYS)
    from_day = hourly_start(today, len(area_list), hourly_rows_max)
    start = datetime(from_day.year, from_day.month, from_day.day, tzinfo=CHINA)
    end = datetime(today.year, today.month, today.day, tzinfo=CHINA)
    hours = [start + timedelta(hours=i) for i in range(int((end - start).total_seconds()) // 3600)]
    local = [(h.month, h.hour) for h in hours]
    pg = connection.vendor == "postgresql"
    # SQLite keeps Django's naive-UTC text; PostgreSQL takes the aware instant.
    stamps = [h if pg else h.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") for h in hours]
    noise = [round(rng.gauss(0, 22)) for _ in range(NOISE_SIZE)]  # σ 2.2 V
    weak = _weak(area_list, rng)
    area_ids = [a.pk for a in area_list]
    table = VoltageReading._meta.db_table
    sql = (
        f"INSERT INTO {table} (transformer_area_id, meter_id, hour, nominal_v, voltage_v) "  # noqa: S608
        "VALUES (%s, NULL, %s, %s, %s)"
    )
    total = 0
    with transaction.atomic():
        VoltageReading.objects.filter(
            transformer_area_id__in=area_ids,
            meter__isnull=True,
            hour__gte=datetime(first_day.year, first_day.month, first_day.day, tzinfo=CHINA),
            hour__lt=end,
        ).delete()
        with connection.cursor() as cur:
            batch: list[tuple] = []
            for a in area_list:
                base = 2240 + rng.randrange(0, 40)  # 224.0–227.9 V
                step = rng.randrange(1, NOISE_SIZE)
                pos = rng.randrange(NOISE_SIZE)
                sag = a.pk in weak
                for i, stamp in enumerate(stamps):
                    month, hour = local[i]
                    v = base + PROFILE[hour] + noise[pos]
                    pos = (pos + step) % NOISE_SIZE
                    if sag and 6 <= month <= 8 and 18 <= hour <= 22:
                        v = 1960 + noise[pos]
                    batch.append((a.pk, stamp, 220.0, v / 10))
                    if len(batch) >= CHUNK:
                        cur.executemany(sql, batch)
                        total += len(batch)
                        batch = []
            if batch:
                cur.executemany(sql, batch)
                total += len(batch)
        early = _month_starts(first_day, from_day - timedelta(days=1)) if first_day < from_day else []
        VoltageMonthly.objects.filter(transformer_area_id__in=area_ids, month__in=early).delete()
        if early:
            VoltageMonthly.objects.bulk_create(
                _monthly_only(area_list, weak, first=first_day, until=from_day, rng=rng), batch_size=2000
            )
        voltage_monthly_refresh(months=_month_starts(from_day, today - timedelta(days=1)), area_ids=area_ids)
    return total
