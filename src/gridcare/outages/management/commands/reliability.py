"""`gridcare reliability --unit CODE --start YYYY-MM-DD --end YYYY-MM-DD [--basis lv|mv] [--area-group G] [--json]`:
the reliability indices of a unit (with its descendants) over a period, from stored interruptions, with and
without Major Event Days (the same figures as `GET /api/v1/reliability/indices`)."""

import json
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gridcare.org.models import SupplyUnit
from gridcare.outages.choices import AREA_GROUP_TYPES, Basis
from gridcare.outages.indices import unit_indices
from gridcare.outages.reliability import MAX_PERIOD_DAYS

LABELS = (
    ("saifi", "SAIFI 平均停电频率（次/户）", "{:.4f}"),
    ("saidi_hours", "SAIDI 平均停电时间（小时/户）", "{:.4f}"),
    ("caidi_hours", "CAIDI 平均停电持续时间（小时）", "{:.4f}"),
    ("asai_percent", "RS-1 供电可靠率（%）", "{:.6f}"),
    ("rs2_percent", "RS-2 不计外部影响（%）", "{:.6f}"),
    ("rs3_percent", "RS-3 不计限电（%）", "{:.6f}"),
    ("maifi", "MAIFI 平均短时停电频率（次/户）", "{:.4f}"),
)


def _day(raw: str, name: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        value = date.fromisoformat(raw)
        if not 2000 <= value.year <= 2100:
            raise ValueError
        return value
    except ValueError:
        raise CommandError(f"--{name}：日期格式应为 YYYY-MM-DD（2000–2100年），收到 {raw!r}") from None


class Command(BaseCommand):
    help = "按单位和期间计算供电可靠性指标（含/不含重大事件日）。示例：gridcare reliability --unit 0101 --start 2025-01-01 --end 2025-12-31"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--unit", required=True, help="供电单位编码（含下级单位）")
        parser.add_argument("--start", required=True, help="起始日 YYYY-MM-DD（含）")
        parser.add_argument("--end", required=True, help="截止日 YYYY-MM-DD（含）")
        parser.add_argument("--basis", default="lv", help="lv 低压用户（默认）/ mv 中压用户")
        parser.add_argument("--area-group", default="all", help="all / centre / urban / rural")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出")

    def handle(self, *args, **opts) -> None:
        unit = SupplyUnit.objects.filter(code=opts["unit"]).first()
        if unit is None:
            raise CommandError(f"--unit：供电单位 {opts['unit']!r} 不存在")
        start, end = _day(opts["start"], "start"), _day(opts["end"], "end")
        if end < start:
            raise CommandError("--end：截止日不能早于起始日")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise CommandError(f"--end：统计期最长 {MAX_PERIOD_DAYS} 天（10年）")
        if opts["basis"] not in Basis.values:
            raise CommandError(f"--basis：应为 {' / '.join(Basis.values)}，收到 {opts['basis']!r}")
        if opts["area_group"] not in AREA_GROUP_TYPES:
            raise CommandError(
                f"--area-group：应为 {' / '.join(AREA_GROUP_TYPES)}，收到 {opts['area_group']!r}"
            )
        try:
            out = unit_indices(unit, start=start, end=end, basis=opts["basis"], area_group=opts["area_group"])
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}：{' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        if opts["json"]:
            self.stdout.write(json.dumps(out, ensure_ascii=False, indent=2))
            return
        w = self.stdout.write
        w(f"单位：{unit.code} {unit.name}（含下级）  期间：{start} 至 {end}（{out['period_hours']} 小时）")
        w(f"口径：{Basis(opts['basis']).label}  区域：{opts['area_group']}")
        used = out["customers_used"]
        w(
            f"统计用户数 N_T（时间加权）：{out['customers_served']:.2f}（最少 {used['min']}，最多 {used['max']}）"
        )
        t = out["t_med_minutes"]
        w(f"重大事件日阈值 T_MED：{'无（历史不足）' if t is None else f'{t:.3f} 分钟'}")
        w(f"重大事件日：{'、'.join(out['major_event_days']) or '无'}")
        w(f"未结束停电：{out['open_interruptions']}")
        w(f"{'指标':<28}{'全部':>16}{'不含重大事件日':>16}")
        for key, label, fmt in LABELS:
            a, b = out["all"][key], out["excluding_med"][key]
            w(
                f"{label:<28}{'—' if a is None else fmt.format(a):>16}{'—' if b is None else fmt.format(b):>16}"
            )
        for n in ("1", "2", "3", "4", "5"):
            a, b = out["cemi"]["all"][n], out["cemi"]["excluding_med"][n]
            w(f"{f'CEMI{n} 停电超过 {n} 次的用户比例':<28}{a:>16.6f}{b:>16.6f}")
