"""Money is Decimal yuan, rounded half-up to the fen (SPEC §4)."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Any) -> Decimal:
    """A number — typically a database SUM — as Decimal yuan to the fen; None (the sum of nothing) is 0.00.

    PostgreSQL answers Decimal, SQLite sums NUMERIC columns as int, float or text ("60.6100000000000"); going
    through str keeps two-decimal sums exact (they stay far inside a float's precision)."""
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


# ---------------------------------------------------------------- 人民币大写 (amount in Chinese capitals)

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿")
RMB_UPPER_LIMIT = Decimal("1000000000000")  # 1 万亿: the first amount refused


def rmb_upper(value: Decimal) -> str:
    """An amount in yuan written in Chinese capitals as on a bank voucher (人民币大写), without the "人民币"
    prefix: 123.45 → 壹佰贰拾叁元肆角伍分.

    The rules of the People's Bank's 《正确填写票据和结算凭证的基本规定》, where it allows two forms the first:
    - "整" after 元 when there is no 角 or 分 (壹佰元整), never after 角 or 分 (拾元伍角 is 壹拾元伍角);
    - one 零 for a run of zeros inside the integer part (1005 → 壹仟零伍元整, 10,010,000 → 壹仟零壹万元整),
      none for zeros at the end of a 万/亿 group (10000 → 壹万元整);
    - 零 after 元 when 角 is 0 and 分 is not (100.05 → 壹佰元零伍分); when 元's digit is 0 and 角 is not,
      no 零 (1,680.32 → 壹仟陆佰捌拾元叁角贰分; the rule allows both);
    - a leading 拾 is written 壹拾 (10 → 壹拾元整, 100,000 → 壹拾万元整), the banks' guard against alteration;
    - no 元 when the amount is under one yuan (0.50 → 伍角, 0.05 → 伍分); 0 → 零元整.

    Refused (ValueError): a negative amount, more than two decimals, 1 万亿 or more, NaN or infinity;
    (TypeError): anything but a Decimal or an int (a float is not an exact amount)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"rmb_upper takes a Decimal, not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError("rmb_upper: not a number")
    if value < 0:
        raise ValueError("rmb_upper: a negative amount has no capitals")
    if value != value.quantize(CENT):
        raise ValueError("rmb_upper: more than two decimals")
    if value >= RMB_UPPER_LIMIT:
        raise ValueError("rmb_upper: 1 万亿 or more")
    yuan, rest = divmod(int(value * 100), 100)
    jiao, fen_ = divmod(rest, 10)
    if yuan == 0 and rest == 0:
        return "零元整"
    out = _integer_upper(yuan) + "元" if yuan else ""
    if jiao:
        out += _DIGITS[jiao] + "角"
    elif fen_ and yuan:
        out += "零"
    if fen_:
        out += _DIGITS[fen_] + "分"
    return out if rest else out + "整"


def _integer_upper(n: int) -> str:
    """1 ≤ n < 10**12 in capitals, groups of four digits (个, 万, 亿)."""
    groups = []
    while n:
        n, g = divmod(n, 10000)
        groups.append(g)
    out, zero = "", False
    for idx in reversed(range(len(groups))):
        g = groups[idx]
        if g == 0:
            zero = bool(out)  # a whole group of zeros between two non-zero parts: one 零
            continue
        if out and (zero or g < 1000):  # zeros before this group's first digit
            out += "零"
        out += _group_upper(g) + _GROUPS[idx]
        zero = False
    return out


def _group_upper(g: int) -> str:
    """1 ≤ g ≤ 9999: 仟佰拾个 with one 零 for zeros between digits, none at the end."""
    out, zero = "", False
    for pos, d in zip((3, 2, 1, 0), (g // 1000, g // 100 % 10, g // 10 % 10, g % 10), strict=True):
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[d] + _IN_GROUP[pos]
    return out
