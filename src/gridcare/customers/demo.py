"""Deterministic demo data for a county utility: organisation, topology, staff and N customers.

`seed_demo(customers=N, seed=S)` builds the same data for the same N and S: names, 户号, ID numbers,
phones and meters are drawn from in-code lists with `random.Random(S)` (not Faker per row: a million
customers must be written in well under two minutes).

How the rows are written:
- The organisation, topology and staff are a few hundred rows, created with the ORM.
- Customers, premises, accounts, holdings, service points and meters are generated as text lines in
  chunks. On PostgreSQL each chunk goes in with `COPY … FROM STDIN`; the generator runs in a forked
  process so that Python generation and the server's COPY work use both cores. Primary keys are
  assigned here (from max(id) + 1) and the identity sequences are moved past them afterwards.
  For a large load into empty tables, the secondary indexes and foreign keys of those six tables are
  dropped before the COPY and recreated after it (a sorted index build and one validating join per
  foreign key are much cheaper than a million index insertions and deferred trigger checks).
- On SQLite the same lines are inserted with `executemany` in one transaction.
Everything runs in one transaction: a failure leaves nothing behind.

Demo conventions: 户号 are 10 digits, the first three encode the station (供电所, e.g. 311xxxxxxx for
城关供电所); every staff user and the portal demo customer share the password `DEMO_PASSWORD`.
"""

from __future__ import annotations

import bisect
import multiprocessing
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, IntegrityError, connection, transaction

from gridcare.core.audit import Actor, audit_record
from gridcare.core.choices import Channel
from gridcare.core.permissions import Role
from gridcare.core.validators import id_check_digit, uscc_check_char
from gridcare.org.choices import UnitLevel
from gridcare.org.models import Counter, ServiceHall, SupplyUnit, User

from .choices import AccountStatus, AreaType, CustomerClass, CustomerKind, HoldingReason, Segment
from .models import (
    Account,
    AccountHolding,
    Customer,
    Feeder,
    Meter,
    PortalBinding,
    Premise,
    ServicePoint,
    TransformerArea,
)

DEMO_PASSWORD = "GridCare-2026"  # noqa: S105 — the documented demo password, printed by `gridcare demo_logins`
PORTAL_DEMO_PHONE = "13900000001"
COMPANY_CODE = "01"
COUNTY = "示范县"
AREA_CODE = "0372"  # landline area code of the demo county
HOME_REGION = "410522"  # administrative division code used for the county in ID numbers and USCCs
# Fixed reference date so the same seed gives the same data whatever day it runs.
REFERENCE_DATE = date(2026, 6, 30)

# ---------------------------------------------------------------------------------------------
# The organisation: company → 3 bureaus → 3–4 stations each.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StationSpec:
    code: str
    name: str
    town: str
    prefix: str  # first three digits of the station's 户号
    weight: float  # share of the county's customers
    mix: tuple[float, float, float]  # share of urban / rural / remote transformer areas
    hall: bool  # has its own service hall


@dataclass(frozen=True)
class BureauSpec:
    code: str
    name: str
    hall_name: str
    stations: tuple[StationSpec, ...]


BUREAUS: tuple[BureauSpec, ...] = (
    BureauSpec(
        "0101",
        "城区供电局",
        "城区营业厅",
        (
            StationSpec("010101", "城关供电所", "城关镇", "311", 0.22, (0.95, 0.05, 0.0), True),
            StationSpec("010102", "南关供电所", "南关街道", "312", 0.12, (0.6, 0.4, 0.0), True),
            StationSpec("010103", "北关供电所", "北关街道", "313", 0.10, (0.5, 0.5, 0.0), False),
        ),
    ),
    BureauSpec(
        "0102",
        "东川供电局",
        "东川营业厅",
        (
            StationSpec("010201", "东川供电所", "东川镇", "321", 0.10, (0.15, 0.85, 0.0), True),
            StationSpec("010202", "柳河供电所", "柳河乡", "322", 0.08, (0.0, 1.0, 0.0), False),
            StationSpec("010203", "桃园供电所", "桃园镇", "323", 0.08, (0.0, 1.0, 0.0), True),
            StationSpec("010204", "石桥供电所", "石桥乡", "324", 0.07, (0.0, 0.9, 0.1), False),
        ),
    ),
    BureauSpec(
        "0103",
        "西岭供电局",
        "西岭营业厅",
        (
            StationSpec("010301", "西岭供电所", "西岭镇", "331", 0.09, (0.1, 0.7, 0.2), True),
            StationSpec("010302", "高山供电所", "高山乡", "332", 0.07, (0.0, 0.5, 0.5), False),
            StationSpec("010303", "云雾供电所", "云雾山乡", "333", 0.07, (0.0, 0.4, 0.6), True),
        ),
    ),
)
STATIONS: tuple[StationSpec, ...] = tuple(s for b in BUREAUS for s in b.stations)

# One demo login per staff role: (username, role, unit code, display name).
DEMO_STAFF: tuple[tuple[str, str, str, str], ...] = (
    ("admin", Role.ADMIN, COMPANY_CODE, "系统管理员"),
    ("manager", Role.MANAGER, COMPANY_CODE, "周建华"),
    ("agent", Role.AGENT, COMPANY_CODE, "陈静"),
    ("clerk", Role.COUNTER_CLERK, "0101", "李娜"),
    ("reader", Role.METER_READER, "010101", "王强"),
    ("billing", Role.BILLING_CLERK, "0101", "刘芳"),
    ("cashier", Role.CASHIER, "0101", "赵敏"),
    ("dispatcher", Role.DISPATCHER, "0101", "孙伟"),
    ("cmanager", Role.CUSTOMER_MANAGER, "0101", "张磊"),
    ("inspector", Role.INSPECTOR, "0101", "吴刚"),
)
CUSTOMER_MANAGERS_PER_BUREAU = 2

# ---------------------------------------------------------------------------------------------
# Word lists (space-separated, so they stay compact)
# ---------------------------------------------------------------------------------------------

# Surnames with their approximate share of the population (per mille), most common first.
_SURNAME_SHARES = """
王71 李70 张67 刘54 陈45 杨31 黄22 赵21 吴20 周19 徐17 孙15 马14 朱13 胡13 郭12 何12 高11 林11 罗10
郑10 梁9 谢8 宋8 唐8 许7 韩7 冯7 邓7 曹7 彭6 曾6 肖6 田6 董6 袁5 潘5 于5 蒋5 蔡5 余5 杜5 叶4 程4
苏4 魏4 吕4 丁4 任4 沈4 姚4 卢4 姜4 崔3 钟3 谭3 陆3 汪3 范3 金3 石3 廖3 贾3 夏3 韦3 付3 方3 白3
邹3 孟3 熊3 秦2 邱2 江2 尹2 薛2 闫2 段2 雷2 侯2 龙2 史2 陶2 黎2 贺2 顾2 毛2 郝2 龚2 邵2 万2 钱2
严2 覃2 武2 戴2 莫1 孔1 向1 汤1 常1 葛1 申1 牛1 岳1 欧阳0.3 司马0.1 诸葛0.1 上官0.1
"""
SURNAMES: tuple[tuple[str, float], ...] = tuple(
    (name, float(share)) for name, share in re.findall(r"(\D+?)([\d.]+)", "".join(_SURNAME_SHARES.split()))
)
MALE_CHARS = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清"
    "飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善"
    "厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛"
)
FEMALE_CHARS = (
    "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛"
    "艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉"
    "君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"
)
ROADS = tuple(
    """人民路 解放路 建设路 中山路 文化路 新华路 和平路 胜利路 团结路 青年路 迎宾大道 光明街 东风路 南环路 北环路
    府前街 健康路 长安路 振兴路 兴业路 朝阳路 幸福路 滨河路 车站路 工业路 商业街 育才路 平安路 金水路 花园路""".split()
)
COMMUNITIES = tuple(
    "阳光小区 锦绣花园 幸福家园 滨河苑 翡翠城 金色家园 东方名邸 书香苑 丽景湾 盛世华庭".split()
)
VILLAGE_FIRST = tuple(
    """王 李 张 刘 陈 杨 赵 黄 周 吴 孙 马 朱 胡 郭 何 高 罗 郑 宋 唐 韩 冯 曹 田 董 潘 蒋 杜 程 魏 丁 任 姚
    柳树 桃花 杏花 石门 青石 白沙 黄土 红旗 向阳 东升 新建 双河 三里 五星 前进 太平 长岭 龙泉 凤凰 马鞍
    大河 小河 西沟 南洼 北坡 后湾""".split()
)
VILLAGE_SECOND = tuple("庄家营寨湾店集岗坡沟屯楼洼桥堡铺")
REMOTE_SECOND = tuple("坪岭坳沟峪垭崖坡")
BRAND_CHARS = "鑫源华盛恒泰宏达丰瑞祥隆兴福康嘉信诚德凯金银宝利通广鸿昌荣永新天正合众汇益"
SME_TRADES = tuple(
    """商贸 建材 餐饮 超市 五金 物流 电子 服装 农资 汽车维修 酒店 大药房 印刷 家具 通讯器材 广告 装饰工程 食品
    粮油 石材 木业 塑料制品 文化传媒 物业管理""".split()
)
SME_SUFFIXES = ("有限公司", "有限公司", "有限责任公司", "经营部", "商行")
INDUSTRIES = tuple(
    """水泥 钢铁 化工 造纸 纺织 铸造 陶瓷 机械制造 食品加工 新型建材 玻璃 电池 冶金 铝业 耐火材料 医药 饲料 矿业
    包装材料 电子科技""".split()
)
INDUSTRY_SUFFIXES = ("有限公司", "股份有限公司", "集团有限公司", "实业有限公司")
LARGE_COMMERCIAL = tuple(
    f"{{b}}{{c}}{kind}"
    for kind in """大酒店有限公司 购物广场有限公司 房地产开发有限公司 冷链物流有限公司 商业管理有限公司 数据中心有限公司
    民营医院有限公司 温泉度假有限公司""".split()
)
# Important customers (重要客户): hospitals, government, water works, schools, hazardous works.
# "name pattern:USCC registration code:L" — L when the class is large industry.
IMPORTANT_KINDS: tuple[tuple[str, str, bool], ...] = tuple(
    (p.split(":")[0], p.split(":")[1], p.endswith(":L"))
    for p in """{county}人民医院:12 {county}中医院:12 {county}妇幼保健院:12 {county}{town}卫生院:12 {county}人民政府:11
    {county}公安局:11 {county}人民法院:11 {county}人民检察院:11 {county}应急管理局:11 {county}消防救援大队:11
    {county}{town}人民政府:11 {county}广播电视台:12 {county}自来水有限公司:91:L {county}污水处理厂:12:L
    {county}{town}供水站:12 {county}第一高级中学:12 {county}{town}中心学校:12 {county}天然气有限公司:91:L
    {county}{town}液化气站:91 {county}{b}化工有限公司:91:L {county}数据通信中心:12 {county}看守所:11
    {county}疾病预防控制中心:12 {county}{town}敬老院:12""".split()
)
AGRI_SITES = ("机井", "灌溉泵站", "养殖场", "大棚", "提灌站")
AGRI_ORGS = ("{town}{b}{c}农民专业合作社", "{county}{b}{c}农业开发有限公司", "{county}{b}{c}生态养殖场")
OTHER_REGIONS = tuple("410523 410526 410527 410581 410502 410503 410105 411023 130427 372923".split())
MOBILE_PREFIXES = tuple(
    """130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 175 176 177 178
    180 181 182 183 184 185 186 187 188 189 191 198 199""".split()
)
CN_NUMERALS = "一二三四五六七八九十"

# Customer mix (用电类别 × 客户分群) as cumulative shares.
CAT_IMPORTANT, CAT_INDUSTRY, CAT_COMMERCIAL_LARGE, CAT_COMMERCIAL, CAT_AGRICULTURE, CAT_RESIDENTIAL = range(6)
CATEGORY_CUMULATIVE = (0.003, 0.013, 0.018, 0.103, 0.123, 1.0)

HV_CAPACITIES = (315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000)
HV_CAPACITY_WEIGHTS = (18, 16, 14, 14, 9, 8, 6, 5, 4, 2, 2, 1, 1)
LV_COMMERCIAL_CAPACITIES = (10, 15, 20, 25, 30, 40, 50, 63, 80, 100)
AGRI_CAPACITIES = (10, 15, 20, 30, 40, 50)

# ---------------------------------------------------------------------------------------------
# Row generation
# ---------------------------------------------------------------------------------------------

# The six bulk tables, in foreign-key order, with the columns written.
BULK_TABLES: tuple[tuple[type, tuple[str, ...]], ...] = (
    (
        Customer,
        (
            "id",
            "kind",
            "name",
            "customer_class",
            "segment",
            "id_number",
            "phone",
            "phone2",
            "email",
            "unit_id",
            "customer_manager_id",
            "notify_sms",
            "notify_wechat",
            "notify_email",
            "created_at",
            "updated_at",
        ),
    ),
    (Premise, ("id", "address", "unit_id", "transformer_area_id")),
    (
        Account,
        (
            "id",
            "account_number",
            "customer_id",
            "premise_id",
            "unit_id",
            "status",
            "opened_on",
            "closed_on",
            "protected",
            "protected_reason",
        ),
    ),
    (AccountHolding, ("id", "account_id", "customer_id", "valid_from", "valid_to", "reason")),
    (
        ServicePoint,
        (
            "id",
            "premise_id",
            "account_id",
            "unit_id",
            "transformer_area_id",
            "voltage_level",
            "contract_capacity_kva",
            "tariff_code",
            "basic_by_demand",
        ),
    ),
    (
        Meter,
        (
            "id",
            "asset_number",
            "service_point_id",
            "unit_id",
            "digits",
            "multiplier",
            "has_tou",
            "installed_on",
            "removed_on",
        ),
    ),
)
N_TABLES = len(BULK_TABLES)
T_CUSTOMER, T_PREMISE, T_ACCOUNT, T_HOLDING, T_SERVICE_POINT, T_METER = range(N_TABLES)
NULL = "\\N"  # COPY text format; the SQLite writer turns it into None


@dataclass
class AreaPlan:
    """A transformer area as the row generator needs it."""

    id: int
    area_type: str
    locality: str  # road (urban) or village (rural, remote)


@dataclass
class StationPlan:
    unit_id: int
    spec: StationSpec
    bureau_index: int
    areas: list[AreaPlan] = field(default_factory=list)


@dataclass
class GenPlan:
    """Everything the row generator needs from the database, so it can run in another process."""

    customers: int
    seed: int
    chunk_size: int
    stations: list[StationPlan]
    managers_by_bureau: list[list[int]]
    first_ids: list[int]  # first primary key per bulk table
    tz_suffix: str  # "+00" for PostgreSQL timestamptz, "" for SQLite


@dataclass
class Chunk:
    lines: list[list[str]]  # per bulk table
    counts: dict[str, int]


def _cum(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [c / total for c in out]


def _lookup_table(items, weights, size: int = 4096) -> list:
    """Items repeated by weight so a weighted draw is one index into a list."""
    cum = _cum(weights)
    return [items[bisect.bisect_right(cum, (k + 0.5) / size)] for k in range(size)]


class _Dates:
    """ISO strings and ID-number strings for every day from 1920 to the reference date."""

    def __init__(self) -> None:
        self.base = date(1920, 1, 1).toordinal()
        n = REFERENCE_DATE.toordinal() - self.base + 1
        days = [date.fromordinal(self.base + k) for k in range(n)]
        self.iso = [d.isoformat() for d in days]
        self.compact = [d.strftime("%Y%m%d") for d in days]
        self.first_open = date(1990, 1, 1).toordinal() - self.base
        self.last = n - 1


def org_code(counter: int) -> str:
    """A 9-character organisation code (GB 11714: 8 digits + check character), unique per counter."""
    body = f"{(counter * 73_939_133 + 10_000_019) % 100_000_000:08d}"
    c = 11 - sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return body + ("X" if c == 10 else "0" if c == 11 else str(c))


def uscc(registration: str, region: str, counter: int) -> str:
    first17 = f"{registration}{region}{org_code(counter)}"
    return first17 + uscc_check_char(first17)


def _id_weights() -> tuple[int, ...]:
    """The GB 11643 weights, read off the project's own `id_check_digit` (one probe per position)."""
    check = "10X98765432"
    return tuple(check.index(id_check_digit("0" * p + "1" + "0" * (16 - p))) for p in range(17))


class _IdCheck:
    """`id_check_digit` as three table lookups: the weighted sum splits into region, birth date and sequence."""

    CHECK = "10X98765432"

    def __init__(self, regions: tuple[str, ...], compact_dates: list[str]) -> None:
        w = _id_weights()

        def wsum(digits: str, weights) -> int:
            return sum(int(c) * k for c, k in zip(digits, weights, strict=True))

        self.region = [wsum(reg, w[:6]) for reg in regions]
        self.birth = [wsum(d, w[6:14]) for d in compact_dates]
        self.seq = [wsum(f"{k:03d}", w[14:]) for k in range(1000)]
        # Cross-check against the validator itself, so the fast path can never drift from it.
        for ri, bi, sq in ((0, 20000, 123), (len(regions) - 1, len(compact_dates) - 1, 998), (0, 0, 0)):
            first17 = f"{regions[ri]}{compact_dates[bi]}{sq:03d}"
            if self.digit(ri, bi, sq) != id_check_digit(first17):
                raise RuntimeError("fast ID check digit disagrees with id_check_digit")

    def digit(self, region: int, birth: int, seq: int) -> str:
        return self.CHECK[(self.region[region] + self.birth[birth] + self.seq[seq]) % 11]


def generate(plan: GenPlan) -> Iterator[Chunk]:
    """Yield the bulk rows chunk by chunk as COPY text lines; same plan ⇒ same rows.

    Written for speed (a million customers): plain strings instead of enum members, per-area text
    prepared once, weighted draws as one index into a lookup table.
    """
    rng = random.Random(plan.seed)
    r = rng.random
    dates = _Dates()
    iso, compact = dates.iso, dates.compact
    tz = plan.tz_suffix
    regions = (HOME_REGION, *OTHER_REGIONS)
    n_other = len(OTHER_REGIONS)
    idc = _IdCheck(regions, compact)
    id_region, id_birth, id_seq, id_chars = idc.region, idc.birth, idc.seq, idc.CHECK
    surnames = _lookup_table([s for s, _ in SURNAMES], [w for _, w in SURNAMES], 8192)
    male, female = MALE_CHARS, FEMALE_CHARS
    n_male, n_female = len(male), len(female)
    prefixes = MOBILE_PREFIXES
    n_pref = len(prefixes)
    station_table = _lookup_table(
        list(range(len(plan.stations))), [s.spec.weight for s in plan.stations], 4096
    )
    hv_caps = _lookup_table(HV_CAPACITIES, HV_CAPACITY_WEIGHTS, 1024)
    cat_cum = CATEGORY_CUMULATIVE
    bisect_right = bisect.bisect_right
    brands, n_brands = BRAND_CHARS, len(BRAND_CHARS)

    # Plain strings: formatting enum members costs a Python-level call per field.
    PERSON, ORG = CustomerKind.PERSON.value, CustomerKind.ORGANISATION.value
    RES, COM = CustomerClass.RESIDENTIAL.value, CustomerClass.COMMERCIAL.value
    LI, AGR = CustomerClass.LARGE_INDUSTRY.value, CustomerClass.AGRICULTURAL.value
    HOUSEHOLD, SME, LARGE, IMPORTANT = (
        Segment.HOUSEHOLD.value,
        Segment.SME.value,
        Segment.LARGE.value,
        Segment.IMPORTANT.value,
    )
    ACTIVE, CLOSED = AccountStatus.ACTIVE.value, AccountStatus.CLOSED.value
    MOVE_IN, TRANSFER = HoldingReason.MOVE_IN.value, HoldingReason.TRANSFER.value

    stations = plan.stations
    towns = [s.spec.town for s in stations]
    units = [str(s.unit_id) for s in stations]
    # Per area: (id, urban?, address prefix "县镇+road/village").
    areas = [
        [
            (a.id, a.area_type in (AreaType.URBAN, AreaType.CENTRE), f"{COUNTY}{s.spec.town}{a.locality}")
            for a in s.areas
        ]
        for s in stations
    ]
    urban_areas = [[a for a in st_areas if a[1]] or st_areas for st_areas in areas]
    station_prefix = [s.spec.prefix for s in stations]
    acct_seq = [0] * len(stations)
    managers = [[str(m) for m in plan.managers_by_bureau[s.bureau_index] if m] for s in stations]
    manager_rr = [0] * len(stations)
    former_pool: list[list[int]] = [[] for _ in stations]  # residential customers who may have moved house
    id_serial: dict[int, int] = {}  # (region, birth day, sex) → next sequence, keeps ID numbers unique
    org_counter = plan.seed * 7
    first_open, last_day = dates.first_open, dates.last
    open_span = last_day - first_open - 30
    hv_multipliers = ((30, 40, 50), (60, 80, 100), (150, 200))
    next_cid, next_pid, next_aid, next_hid, next_sid, next_mid = plan.first_ids
    n = plan.customers

    def phone() -> str:
        while True:
            p = f"{prefixes[int(r() * n_pref)]}{int(r() * 100_000_000):08d}"
            if p != PORTAL_DEMO_PHONE:
                return p

    for start in range(0, n, plan.chunk_size):
        c_out: list[str] = []
        p_out: list[str] = []
        a_out: list[str] = []
        h_out: list[str] = []
        s_out: list[str] = []
        m_out: list[str] = []
        n_cust = n_acc_total = n_closed = n_transfer = n_important = n_tou = 0
        for i in range(start, min(n, start + plan.chunk_size)):
            demo = i == 0  # the portal demo customer: residential, 城关, phone PORTAL_DEMO_PHONE
            st = 0 if demo else station_table[int(r() * 4096)]
            cat = CAT_RESIDENTIAL if demo else bisect_right(cat_cum, r())
            town = towns[st]
            unit = units[st]
            open_day = first_open + int((r() ** 0.6) * open_span)
            cid = next_cid
            next_cid += 1
            manager = NULL
            email = phone2 = ""
            notify_email = "0"
            notify_wechat = "1" if r() < 0.35 else "0"
            is_male = r() < 0.5
            person = True
            if cat == CAT_RESIDENTIAL:
                klass, segment = RES, HOUSEHOLD
            elif cat == CAT_AGRICULTURE:
                klass, segment = AGR, SME
                person = r() < 0.75
            elif cat == CAT_COMMERCIAL:
                klass, segment = COM, SME
                person = r() < 0.3  # 个体工商户 hold the account in their own name
            elif cat == CAT_COMMERCIAL_LARGE:
                klass, segment, person = COM, LARGE, False
            elif cat == CAT_INDUSTRY:
                klass, segment, person = LI, LARGE, False
            else:
                klass, segment, person = COM, IMPORTANT, False
            if person:
                kind = PERSON
                sur = surnames[int(r() * 8192)]
                if is_male:
                    name = sur + male[int(r() * n_male)] + ("" if r() < 0.18 else male[int(r() * n_male)])
                else:
                    name = (
                        sur
                        + female[int(r() * n_female)]
                        + ("" if r() < 0.18 else female[int(r() * n_female)])
                    )
                # ID number: region, birth date (18–68 years old when the account was opened), sequence, check.
                ri = 0 if r() < 0.8 else 1 + int(r() * n_other)
                birth = open_day - 6570 - int(r() * 18250)
                key = (ri * 65536 + birth) * 2 + is_male
                k = id_serial.get(key)
                if k is None:
                    k = int(r() * 40)
                elif k >= 499:  # that day's sequence numbers are used up: the next day is as plausible
                    birth += 1
                    key += 2
                    k = id_serial.get(key, 0)
                id_serial[key] = k + 1 + int(r() * 3)
                seq = 2 * k + is_male  # odd for men, even for women
                ident = f"{regions[ri]}{compact[birth]}{seq:03d}{id_chars[(id_region[ri] + id_birth[birth] + id_seq[seq]) % 11]}"
                if r() < 0.12:
                    phone2 = f"{AREA_CODE}-{int(2_000_000 + r() * 7_000_000)}"
            else:
                kind = ORG
                b1 = brands[int(r() * n_brands)]
                b2 = brands[int(r() * n_brands)]
                reg = "91"
                if cat == CAT_IMPORTANT:
                    pattern, reg, industrial = IMPORTANT_KINDS[int(r() * len(IMPORTANT_KINDS))]
                    name = pattern.format(county=COUNTY, town=town, b=b1 + b2)
                    if industrial:
                        klass = LI
                    n_important += 1
                elif cat == CAT_INDUSTRY:
                    name = (
                        f"{COUNTY}{b1}{b2}{INDUSTRIES[int(r() * len(INDUSTRIES))]}"
                        f"{INDUSTRY_SUFFIXES[int(r() * len(INDUSTRY_SUFFIXES))]}"
                    )
                elif cat == CAT_COMMERCIAL_LARGE:
                    name = COUNTY + LARGE_COMMERCIAL[int(r() * len(LARGE_COMMERCIAL))].format(b=b1, c=b2)
                elif cat == CAT_AGRICULTURE:
                    name = AGRI_ORGS[int(r() * len(AGRI_ORGS))].format(county=COUNTY, town=town, b=b1, c=b2)
                    if name.endswith("合作社"):
                        reg = "93"
                else:
                    name = (
                        f"{COUNTY}{town if r() < 0.5 else ''}{b1}{b2}{SME_TRADES[int(r() * len(SME_TRADES))]}"
                        f"{SME_SUFFIXES[int(r() * len(SME_SUFFIXES))]}"
                    )
                org_counter += 1
                ident = uscc(reg, HOME_REGION, org_counter)
                phone2 = f"{AREA_CODE}-{int(2_000_000 + r() * 7_000_000)}"
                if r() < 0.4:
                    email = f"contact{cid}@example.com"
                    notify_email = "1"
                if segment is LARGE or segment is IMPORTANT:
                    ms = managers[st]
                    if ms:
                        manager = ms[manager_rr[st] % len(ms)]
                        manager_rr[st] += 1
            mobile = PORTAL_DEMO_PHONE if demo else phone()
            stamp = f"{iso[open_day]} {1 + int(r() * 8):02d}:{int(r() * 60):02d}:00{tz}"
            c_out.append(
                f"{cid}\t{kind}\t{name}\t{klass}\t{segment}\t{ident}\t{mobile}\t{phone2}\t{email}\t{unit}\t"
                f"{manager}\t1\t{notify_wechat}\t{notify_email}\t{stamp}\t{stamp}"
            )
            n_cust += 1

            # Accounts: most customers hold one; shops and some households hold a second one.
            n_acc = 1
            if not demo and r() < (
                0.12 if cat == CAT_COMMERCIAL else 0.025 if cat == CAT_RESIDENTIAL else 0.08
            ):
                n_acc = 2
            for k in range(n_acc):
                acc_open = open_day if k == 0 else open_day + int(r() * (last_day - open_day))
                pool = urban_areas[st] if cat == CAT_COMMERCIAL or cat == CAT_COMMERCIAL_LARGE else areas[st]
                area_id, urban, where = pool[int(r() * len(pool))]
                # Address from the area's road or village: urban flats and shopfronts, village houses, pump sites.
                num = 1 + int(r() * 300)
                if cat == CAT_RESIDENTIAL:
                    if not urban:
                        address = f"{where}{1 + int(r() * 12)}组{num}号"
                    elif r() < 0.6:
                        address = (
                            f"{where}{num}号{COMMUNITIES[int(r() * 10)]}{1 + int(r() * 20)}栋"
                            f"{1 + int(r() * 4)}单元{1 + int(r() * 18)}0{1 + int(r() * 4)}室"
                        )
                    else:
                        address = f"{where}{num}号"
                elif cat == CAT_AGRICULTURE:
                    address = f"{where}{AGRI_SITES[int(r() * 5)]}{1 + int(r() * 9)}号"
                elif cat == CAT_INDUSTRY:
                    address = f"{COUNTY}{town}工业园区{where[len(COUNTY) + len(town) :]}{num}号"
                else:
                    address = f"{where}{num}号"
                pid = next_pid
                next_pid += 1
                p_out.append(f"{pid}\t{address}\t{unit}\t{area_id}")

                acct_seq[st] += 1
                aid = next_aid
                next_aid += 1
                closed = (not demo) and r() < 0.02
                if closed:
                    close_day = acc_open + 1 + int(r() * max(1, last_day - acc_open - 1))
                    end_iso = iso[close_day]
                    n_closed += 1
                else:
                    close_day = last_day
                    end_iso = NULL
                holder_from = acc_open
                reason = MOVE_IN
                if (
                    cat == CAT_RESIDENTIAL
                    and not demo
                    and r() < 0.015
                    and former_pool[st]
                    and close_day - acc_open > 60
                ):
                    # 过户: the account was held by an earlier customer who sold or let the house.
                    holder_from = acc_open + 30 + int(r() * (close_day - acc_open - 60))
                    reason = TRANSFER
                    former = former_pool[st][int(r() * len(former_pool[st]))]
                    h_out.append(
                        f"{next_hid}\t{aid}\t{former}\t{iso[acc_open]}\t{iso[holder_from]}\t{MOVE_IN}"
                    )
                    next_hid += 1
                    n_transfer += 1
                h_out.append(f"{next_hid}\t{aid}\t{cid}\t{iso[holder_from]}\t{end_iso}\t{reason}")
                next_hid += 1
                a_out.append(
                    f"{aid}\t{station_prefix[st]}{acct_seq[st]:07d}\t{cid}\t{pid}\t{unit}\t"
                    f"{CLOSED if closed else ACTIVE}\t{iso[acc_open]}\t{end_iso}\t0\t"
                )
                n_acc_total += 1

                # Service point and meter by class.
                digits, multiplier, by_demand = 6, 1, "0"
                if cat == CAT_RESIDENTIAL:
                    tou = demo or r() < 0.3
                    voltage, capacity, tariff = "220V", "8.0", "RES-TIER-TOU" if tou else "RES-TIER"
                    if not demo and r() < 0.1:
                        digits = 8
                elif cat == CAT_COMMERCIAL:
                    tou = r() < 0.4
                    tariff = "COM-TOU" if tou else "COM-FLAT"
                    if person and r() < 0.6:
                        voltage, capacity = "220V", "8.0"
                    else:
                        voltage = "380V"
                        capacity = f"{LV_COMMERCIAL_CAPACITIES[int(r() ** 2 * 10)]}.0"
                elif cat == CAT_AGRICULTURE:
                    tou, tariff, voltage = False, "AGR-FLAT", "380V"
                    capacity = f"{AGRI_CAPACITIES[int(r() * 6)]}.0"
                else:
                    cap = hv_caps[int(r() * 1024)]
                    if cat == CAT_IMPORTANT:
                        cap = min(cap, 2000)
                    voltage, capacity, digits, tou = "10kV", f"{cap}.0", 8, True
                    # Large industry is always metered by time of use; others at 10 kV choose TOU too.
                    tariff = "LI-TWO-PART" if klass is LI else "COM-TOU"
                    # Plants above 2,000 kVA pay the basic charge by maximum demand, the rest by capacity.
                    by_demand = "1" if klass is LI and cap > 2000 else "0"
                    ratios = hv_multipliers[0 if cap <= 630 else 1 if cap <= 2000 else 2]
                    multiplier = ratios[int(r() * len(ratios))]
                n_tou += tou
                sid = next_sid
                next_sid += 1
                s_out.append(
                    f"{sid}\t{pid}\t{aid}\t{unit}\t{area_id}\t{voltage}\t{capacity}\t{tariff}\t{by_demand}"
                )
                m_out.append(
                    f"{next_mid}\t41{next_mid:014d}\t{sid}\t{unit}\t{digits}\t{multiplier}\t{'1' if tou else '0'}\t"
                    f"{iso[acc_open]}\t{end_iso}"
                )
                next_mid += 1
            if cat == CAT_RESIDENTIAL and not demo:
                former_pool[st].append(cid)
        counts = {
            "customers": n_cust,
            "accounts": n_acc_total,
            "closed_accounts": n_closed,
            "transfers": n_transfer,
            "important": n_important,
            "tou": n_tou,
            "rows": n_cust + 4 * n_acc_total + len(h_out),
        }
        yield Chunk(lines=[c_out, p_out, a_out, h_out, s_out, m_out], counts=counts)


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def _table_sql(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _check_columns() -> None:
    """Fail loudly if a model gained a column this generator does not fill."""
    for model, cols in BULK_TABLES:
        have = {f.column for f in model._meta.concrete_fields}
        if have != set(cols):
            raise RuntimeError(
                f"demo generator out of date for {model._meta.label}: model has {sorted(have - set(cols))} "
                f"not written, writes {sorted(set(cols) - have)} not in the model"
            )


class _SqliteWriter:
    def __init__(self) -> None:
        self.sql = []
        for model, cols in BULK_TABLES:
            qcols = ", ".join(connection.ops.quote_name(c) for c in cols)
            marks = ", ".join("?" * len(cols))
            self.sql.append(f"INSERT INTO {_table_sql(model)} ({qcols}) VALUES ({marks})")  # noqa: S608

    def write(self, chunk: Chunk) -> None:
        with connection.cursor() as cur:
            for t, lines in enumerate(chunk.lines):
                if lines:
                    cur.executemany(
                        self.sql[t],
                        [[None if v == NULL else v for v in line.split("\t")] for line in lines],
                    )


class _PgWriter:
    def __init__(self) -> None:
        self.sql = []
        for model, cols in BULK_TABLES:
            qcols = ", ".join(connection.ops.quote_name(c) for c in cols)
            self.sql.append(f"COPY {_table_sql(model)} ({qcols}) FROM STDIN")

    def write_encoded(self, payloads: list[bytes]) -> None:
        with connection.cursor() as cur:
            raw = cur.cursor  # the psycopg 3 cursor under Django's wrapper
            for t, data in enumerate(payloads):
                if data:
                    with raw.copy(self.sql[t]) as copy:
                        copy.write(data)


def _encode(chunk: Chunk) -> tuple[list[bytes], dict[str, int]]:
    return ["".join(line + "\n" for line in lines).encode() for lines in chunk.lines], chunk.counts


def _producer(plan: GenPlan, conn) -> None:
    """Child process: generate and encode chunks, send them to the parent; errors travel too."""
    try:
        for chunk in generate(plan):
            conn.send(_encode(chunk))
        conn.send(None)
    except BaseException as e:  # noqa: BLE001 — reported to the parent, which raises
        conn.send(RuntimeError(f"demo generator failed: {e!r}"))
    finally:
        conn.close()


def forked_items(producer, payload) -> Iterator:
    """Run `producer(payload, send)` in a forked process so Python generation overlaps the server's COPY
    work (two cores); yield what it sends until None, and re-raise an exception it sends."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=producer, args=(payload, send), daemon=True)
    proc.start()
    send.close()
    try:
        while True:
            item = recv.recv()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        recv.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


def _chunks_forked(plan: GenPlan) -> Iterator[tuple[list[bytes], dict[str, int]]]:
    return forked_items(_producer, plan)


# ---------------------------------------------------------------------------------------------
# PostgreSQL: drop and recreate secondary indexes and foreign keys around a large load
# ---------------------------------------------------------------------------------------------


@dataclass
class _Saved:
    indexes: list[str] = field(default_factory=list)  # CREATE INDEX statements
    constraints: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # (table, name, type, definition)


def _pg_drop_secondary(tables: list[str], index_tables: list[str]) -> _Saved:
    saved = _Saved()
    with connection.cursor() as cur:
        # Fire the deferred checks of the rows written so far: ALTER TABLE refuses tables with pending ones.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Unique and foreign-key constraints of these tables, except unique ones another table's FK relies on.
        cur.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE (c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]))
               OR (c.contype = 'u' AND c.conrelid = ANY(%s::regclass[]) AND NOT EXISTS (
                    SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid))
            ORDER BY c.contype DESC, c.conname
            """,
            [tables, index_tables],
        )
        saved.constraints = cur.fetchall()
        cur.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [index_tables],
        )
        indexes = cur.fetchall()
        for table, name, _type, _definition in saved.constraints:
            cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, definition in indexes:
            cur.execute(f"DROP INDEX {name}")
            saved.indexes.append(definition)
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
    return saved


def _pg_restore_secondary(saved: _Saved, progress: Callable[[str], None]) -> None:
    def add(cur, table: str, name: str, definition: str) -> None:
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")

    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, contype, definition in saved.constraints:
            if contype == "u":
                add(cur, table, name, definition)
        for definition in saved.indexes:
            cur.execute(definition)
        progress(f"  {len(saved.indexes)} indexes rebuilt in {time.monotonic() - t0:.1f}s")
        t1 = time.monotonic()
        fks = [c for c in saved.constraints if c[2] == "f"]
        for table, name, _contype, definition in fks:
            add(cur, table, name, definition)
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        progress(f"  {len(fks)} foreign keys validated in {time.monotonic() - t1:.1f}s")


# ---------------------------------------------------------------------------------------------
# Organisation, topology and staff (a few hundred rows, ORM)
# ---------------------------------------------------------------------------------------------


def _units() -> tuple[SupplyUnit, list[SupplyUnit], list[SupplyUnit]]:
    def get(code: str, name: str, level: str, parent: SupplyUnit | None) -> SupplyUnit:
        unit = SupplyUnit.objects.filter(code=code).first()
        if unit is None:
            unit = SupplyUnit.objects.create(
                code=code,
                name=name,
                level=level,
                parent=parent,
                path=f"{parent.path if parent else ''}{code}.",
            )
        return unit

    company = get(COMPANY_CODE, "示范供电公司", UnitLevel.COMPANY, None)
    bureaus, stations = [], []
    for b in BUREAUS:
        bureau = get(b.code, b.name, UnitLevel.BUREAU, company)
        bureaus.append(bureau)
        for s in b.stations:
            stations.append(get(s.code, s.name, UnitLevel.STATION, bureau))
    return company, bureaus, stations


def _halls(bureaus: list[SupplyUnit], stations: list[SupplyUnit]) -> int:
    made = 0
    specs = []
    for b, bureau in zip(BUREAUS, bureaus, strict=True):
        specs.append((bureau, f"H{b.code}", b.hall_name, f"{COUNTY}城关镇{ROADS[len(specs) * 3]}88号", 6))
    for s, station in zip(STATIONS, stations, strict=True):
        if s.hall:
            specs.append(
                (station, f"H{s.code}", f"{s.town}营业厅", f"{COUNTY}{s.town}{ROADS[len(specs)]}1号", 2)
            )
    for unit, code, name, address, counters in specs:
        if ServiceHall.objects.filter(code=code).exists():
            continue
        hall = ServiceHall.objects.create(unit=unit, code=code, name=name, address=address)
        Counter.objects.bulk_create(
            Counter(hall=hall, number=k, name=f"{k}号窗口") for k in range(1, counters + 1)
        )
        made += 1
    return made


def _topology(n: int, seed: int, stations: list[SupplyUnit]) -> list[StationPlan]:
    """Feeders and transformer areas per station, sized to the number of customers; every area type (the city
    centre in each bureau's seat town)."""
    rng = random.Random(seed * 7919 + 1)
    avg_per_area = {AreaType.URBAN: 260, AreaType.RURAL: 120, AreaType.REMOTE: 60}
    plans = []
    feeders, areas = [], []
    area_rows: list[tuple[StationPlan, TransformerArea, str]] = []
    for b_index, b in enumerate(BUREAUS):
        for s in b.stations:
            unit = next(u for u in stations if u.code == s.code)
            plan = StationPlan(unit_id=unit.pk, spec=s, bureau_index=b_index)
            plans.append(plan)
            expected = n * s.weight
            avg = sum(
                m * avg_per_area[t]
                for m, t in zip(s.mix, (AreaType.URBAN, AreaType.RURAL, AreaType.REMOTE), strict=True)
            )
            n_areas = max(3, round(expected / avg))
            n_feeders = max(2, n_areas // 24)
            station_feeders = []
            for f in range(n_feeders):
                label = CN_NUMERALS[f] if f < 10 else str(f + 1)
                feeder = Feeder(code=f"F{s.code}{f + 1:03d}", name=f"10kV{s.town[:2]}{label}线", unit=unit)
                feeders.append(feeder)
                station_feeders.append(feeder)
            cum = _cum(s.mix)
            used: dict[str, int] = {}
            for k in range(n_areas):
                area_type = (AreaType.URBAN, AreaType.RURAL, AreaType.REMOTE)[
                    bisect.bisect_right(cum, (k + 0.5) / n_areas)
                ]
                if area_type == AreaType.URBAN:
                    locality = ROADS[rng.randrange(len(ROADS))]
                elif area_type == AreaType.RURAL:
                    locality = (
                        VILLAGE_FIRST[rng.randrange(len(VILLAGE_FIRST))]
                        + VILLAGE_SECOND[rng.randrange(len(VILLAGE_SECOND))]
                        + "村"
                    )
                else:
                    locality = (
                        VILLAGE_FIRST[rng.randrange(len(VILLAGE_FIRST))]
                        + REMOTE_SECOND[rng.randrange(len(REMOTE_SECOND))]
                        + "村"
                    )
                used[locality] = used.get(locality, 0) + 1
                if area_type == AreaType.URBAN and s is b.stations[0]:
                    # The bureau's seat town: its first urban area and every tenth after it are the city
                    # centre 市中心 (reliability targets read centre, urban and rural areas apart).
                    centre_seen = used.get("\0centre", 0)
                    used["\0centre"] = centre_seen + 1
                    if centre_seen % 10 == 0:
                        area_type = AreaType.CENTRE
                area = TransformerArea(
                    code=f"T{s.code}{k + 1:05d}",
                    name=f"{locality}{used[locality]}号台区",
                    feeder=station_feeders[k * n_feeders // n_areas],
                    unit=unit,
                    area_type=area_type,
                    capacity_kva=(200, 315, 400, 500, 630)[rng.randrange(5)]
                    if area_type != AreaType.REMOTE
                    else (100, 160, 200)[rng.randrange(3)],
                )
                areas.append(area)
                area_rows.append((plan, area, locality))
    Feeder.objects.bulk_create(feeders, batch_size=1000)
    for area in areas:
        area.feeder_id = area.feeder.pk
    TransformerArea.objects.bulk_create(areas, batch_size=1000)
    if any(a.pk is None for a in areas):  # backends without RETURNING: read the ids back
        ids = dict(TransformerArea.objects.filter(code__in=[a.code for a in areas]).values_list("code", "id"))
        for a in areas:
            a.pk = ids[a.code]
    for plan, area, locality in area_rows:
        plan.areas.append(AreaPlan(id=area.pk, area_type=area.area_type, locality=locality))
    return plans


def _staff(
    company: SupplyUnit, bureaus: list[SupplyUnit], stations: list[SupplyUnit], seed: int
) -> tuple[list[list[int]], int]:
    """Demo logins for every staff role, customer managers per bureau, a clerk and a reader per station."""
    rng = random.Random(seed * 31 + 5)
    units = {u.code: u for u in [company, *bureaus, *stations]}
    surnames = [s for s, w in SURNAMES if w >= 3]

    def a_name() -> str:
        chars = MALE_CHARS if rng.random() < 0.5 else FEMALE_CHARS
        return rng.choice(surnames) + rng.choice(chars) + rng.choice(chars)

    def a_phone() -> str:
        return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"

    wanted: list[tuple[str, str, SupplyUnit, str]] = [(u, r, units[c], d) for u, r, c, d in DEMO_STAFF]
    for b_index, bureau in enumerate(bureaus):
        for k in range(CUSTOMER_MANAGERS_PER_BUREAU):
            username = f"cmanager{b_index * CUSTOMER_MANAGERS_PER_BUREAU + k + 1}"
            if username != "cmanager1":
                wanted.append((username, Role.CUSTOMER_MANAGER, bureau, a_name()))
    for station in stations:
        wanted.append((f"clerk{station.code}", Role.COUNTER_CLERK, station, a_name()))
        wanted.append((f"reader{station.code}", Role.METER_READER, station, a_name()))
    existing = set(
        User.objects.filter(username__in=[w[0] for w in wanted]).values_list("username", flat=True)
    )
    password = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 per user would dominate a small seed
    new = [
        User(
            username=username,
            password=password,
            role=role,
            unit=unit,
            display_name=display,
            phone=a_phone(),
            is_staff=role == Role.ADMIN,
        )
        for username, role, unit, display in wanted
        if username not in existing
    ]
    User.objects.bulk_create(new)
    managers_by_bureau = []
    for bureau in bureaus:
        ids = list(
            User.objects.filter(role=Role.CUSTOMER_MANAGER, unit=bureau, is_active=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        managers_by_bureau.append(ids)
    return managers_by_bureau, len(new)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


class DemoDataExists(Exception):
    """Customers exist already; seeding again would double the data."""


@dataclass
class SeedResult:
    counts: dict[str, int]
    elapsed: float
    portal_account: str


def demo_data_exists() -> bool:
    return Customer.objects.exists()


class DemoResetBlocked(Exception):
    """Other data (bills, work orders…) refers to the demo customers, so they cannot be deleted."""


def reset_demo(progress: Callable[[str], None] = lambda s: None) -> None:
    """Delete the customer registry and topology (keeps units, halls, staff and the audit trail)."""
    models = [
        PortalBinding,
        Meter,
        ServicePoint,
        AccountHolding,
        Account,
        Premise,
        Customer,
        TransformerArea,
        Feeder,
    ]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            try:
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute(f"TRUNCATE {', '.join(_table_sql(m) for m in models)}")
                progress("  demo data truncated")
                return
            except DatabaseError:  # another app's table has a foreign key to these (even if empty)
                progress("  other tables reference the demo tables: deleting instead of truncating")
        try:
            with transaction.atomic(), connection.cursor() as cur:
                for m in models:
                    cur.execute(f"DELETE FROM {_table_sql(m)}")  # noqa: S608
                if connection.vendor == "sqlite":
                    cur.execute("PRAGMA foreign_key_check")  # SQLite checks deferred keys only at commit
                    row = cur.fetchone()
                    if row:
                        raise IntegrityError(f"rows of {row[0]} refer to deleted demo rows")
        except IntegrityError as e:
            raise DemoResetBlocked(f"other data refers to the demo customers, reset refused: {e}") from e
    progress("  demo data deleted")


def seed_demo(
    *,
    customers: int,
    seed: int,
    chunk_size: int = 20_000,
    drop_indexes: bool | None = None,
    fork: bool | None = None,
    reset: bool = False,
    progress: Callable[[str], None] = lambda s: None,
) -> SeedResult:
    """Build the demo county in one transaction. Raises DemoDataExists when customers exist already.

    `drop_indexes` (PostgreSQL): drop secondary indexes and foreign keys of the bulk tables during the load;
    by default when loading 50,000 customers or more. `fork`: generate rows in a child process (default on
    PostgreSQL where fork is available). `reset`: delete existing demo data first, in the same transaction,
    so a failed seed leaves the old data in place.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    _check_columns()
    t0 = time.monotonic()
    pg = connection.vendor == "postgresql"
    if drop_indexes is None:
        drop_indexes = pg and customers >= 50_000
    if fork is None:
        fork = pg and "fork" in multiprocessing.get_all_start_methods() and customers >= 20_000
    totals: dict[str, int] = {}
    with transaction.atomic():
        if pg:
            # One seed at a time, and nobody inserting customers meanwhile.
            with connection.cursor() as cur:
                cur.execute(f"LOCK TABLE {_table_sql(Customer)} IN SHARE ROW EXCLUSIVE MODE")
        if demo_data_exists():
            if not reset:
                raise DemoDataExists
            reset_demo(progress)
        company, bureaus, stations = _units()
        halls = _halls(bureaus, stations)
        managers, staff = _staff(company, bureaus, stations, seed)
        station_plans = _topology(customers, seed, stations)
        progress(
            f"  organisation: {1 + len(bureaus)} company/bureaus, {len(stations)} stations, {halls} new halls, "
            f"{staff} new staff, {sum(len(p.areas) for p in station_plans)} transformer areas"
        )
        first_ids = []
        for model, _cols in BULK_TABLES:
            top = model.objects.order_by("-id").values_list("id", flat=True).first()
            first_ids.append((top or 0) + 1)
        plan = GenPlan(
            customers=customers,
            seed=seed,
            chunk_size=chunk_size,
            stations=station_plans,
            managers_by_bureau=managers,
            first_ids=first_ids,
            tz_suffix="+00" if pg else "",
        )
        saved = None
        if pg and drop_indexes:
            # Measured at 1 M customers: maintaining the 17 append-only indexes during COPY costs the server
            # about twice what rebuilding them afterwards does, so every secondary index goes.
            tables = [m._meta.db_table for m, _ in BULK_TABLES]
            saved = _pg_drop_secondary(tables, tables)
        done = 0
        if pg:
            writer = _PgWriter()
            source = _chunks_forked(plan) if fork else (_encode(c) for c in generate(plan))
            waited = copying = 0.0  # where the load spends its time: waiting for rows, or in COPY
            t_load = time.monotonic()
            for payloads, counts in source:
                t_got = time.monotonic()
                writer.write_encoded(payloads)
                t_written = time.monotonic()
                waited += t_got - t_load
                copying += t_written - t_got
                t_load = t_written
                done = _add_counts(totals, counts, done, customers, t0, progress)
            progress(f"  load: {copying:.1f}s in COPY, {waited:.1f}s waiting for the generator")
        else:
            writer = _SqliteWriter()
            for chunk in generate(plan):
                writer.write(chunk)
                done = _add_counts(totals, chunk.counts, done, customers, t0, progress)
        if saved is not None:
            _pg_restore_secondary(saved, progress)
        if pg:
            with connection.cursor() as cur:
                for model, _cols in BULK_TABLES:
                    table = model._meta.db_table
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {_table_sql(model)}))",  # noqa: S608
                        [table],
                    )
        portal_account = _portal_user(first_ids[T_ACCOUNT])
        elapsed = time.monotonic() - t0
        audit_record(
            actor=Actor(channel=Channel.JOB),
            action="demo.seed",
            object_type="demo",
            object_id=str(seed),
            unit_id=company.pk,
            changes={
                "seed": seed,
                "requested_customers": customers,
                **totals,
                "elapsed_s": round(elapsed, 1),
            },
        )
    if pg:
        # Fresh statistics so the first queries get good plans; outside a transaction also VACUUM, which sets
        # hint bits and the visibility map now rather than on the first reads (and autovacuum may be off).
        t1 = time.monotonic()
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cur:
            cur.execute(f"{command} {', '.join(_table_sql(m) for m, _ in BULK_TABLES)}")
        progress(f"  {command} in {time.monotonic() - t1:.1f}s")
    return SeedResult(counts=totals, elapsed=time.monotonic() - t0, portal_account=portal_account)


def _add_counts(totals, counts, done, customers, t0, progress) -> int:
    for k, v in counts.items():
        totals[k] = totals.get(k, 0) + int(v)
    before, done = done, totals["customers"]
    step = max(1, customers // 10)
    if done // step != before // step or done == customers:
        el = time.monotonic() - t0
        progress(f"  {done:,}/{customers:,} customers, {totals['accounts']:,} accounts ({el:.1f}s)")
    return done


def _portal_user(first_account_id: int) -> str:
    """The portal demo customer: username = phone, bound to the demo customer's account."""
    from django.utils import timezone

    account = Account.objects.select_related("customer").get(pk=first_account_id)
    user = User.objects.filter(username=PORTAL_DEMO_PHONE).first()
    if user is None:
        user = User.objects.create(
            username=PORTAL_DEMO_PHONE,
            password=make_password(DEMO_PASSWORD),
            role=Role.CUSTOMER,
            unit=None,
            phone=PORTAL_DEMO_PHONE,
            display_name=account.customer.name,
        )
    PortalBinding.objects.get_or_create(user=user, account=account, defaults={"created_at": timezone.now()})
    return account.account_number


def demo_logins() -> list[dict[str, str]]:
    """The demo staff logins that exist, one per role, for `gridcare demo_logins`."""
    names = [u for u, *_ in DEMO_STAFF]
    users = {u.username: u for u in User.objects.filter(username__in=names).select_related("unit")}
    return [
        {
            "username": u,
            "password": DEMO_PASSWORD,
            "role": users[u].get_role_display(),
            "unit": str(users[u].unit or ""),
        }
        for u in names
        if u in users
    ]


def portal_login() -> dict[str, str] | None:
    """The portal demo customer and the 户号 bound to it, for `gridcare demo_logins`."""
    user = User.objects.filter(username=PORTAL_DEMO_PHONE, role=Role.CUSTOMER).first()
    if user is None:
        return None
    binding = (
        PortalBinding.objects.filter(user=user)
        .select_related("account__customer")
        .order_by("created_at", "id")
        .first()
    )
    return {
        "username": user.username,
        "password": DEMO_PASSWORD,
        "role": str(Role.CUSTOMER.label),
        "account_number": binding.account.account_number if binding else "",
        "customer_name": binding.account.customer.name if binding else "",
        "phone_last4": binding.account.customer.phone[-4:] if binding else "",
    }
