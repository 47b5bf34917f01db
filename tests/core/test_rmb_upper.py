"""`rmb_upper`: an amount in Chinese capitals (人民币大写). Every expected string below is written by hand from
the People's Bank's 《正确填写票据和结算凭证的基本规定》 and its examples (marked "PBoC"), never taken from the
code's output."""

from decimal import Decimal

import pytest

from gridcare.core.money import rmb_upper

D = Decimal

CASES = [
    # The example and the basic units
    ("123.45", "壹佰贰拾叁元肆角伍分"),
    ("1", "壹元整"),
    ("1.00", "壹元整"),
    ("9.99", "玖元玖角玖分"),
    ("100", "壹佰元整"),
    ("100.00", "壹佰元整"),
    ("1000", "壹仟元整"),
    ("10000", "壹万元整"),
    ("100000000", "壹亿元整"),
    # 整 only after 元; never after 角 or 分
    ("10.50", "壹拾元伍角"),
    ("3.20", "叁元贰角"),
    ("3.21", "叁元贰角壹分"),
    # Under one yuan: no 元, no leading 零
    ("0.50", "伍角"),
    ("0.05", "伍分"),
    ("0.01", "壹分"),
    ("0.99", "玖角玖分"),
    ("0", "零元整"),
    ("0.00", "零元整"),
    # 壹拾 where 拾 leads the amount or a 万/亿 group
    ("10", "壹拾元整"),
    ("15", "壹拾伍元整"),
    ("19.00", "壹拾玖元整"),
    ("110", "壹佰壹拾元整"),
    ("100000", "壹拾万元整"),
    ("110000", "壹拾壹万元整"),
    ("1000000000", "壹拾亿元整"),
    ("1010", "壹仟零壹拾元整"),
    # Zeros inside the integer part: one 零 per run
    ("1005.00", "壹仟零伍元整"),
    ("1050", "壹仟零伍拾元整"),
    ("1500", "壹仟伍佰元整"),
    ("101", "壹佰零壹元整"),
    ("100.05", "壹佰元零伍分"),
    ("10010000.01", "壹仟零壹万元零壹分"),
    ("10001", "壹万零壹元整"),
    ("10010", "壹万零壹拾元整"),
    ("1000100", "壹佰万零壹佰元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("120000000", "壹亿贰仟万元整"),
    ("102000000", "壹亿零贰佰万元整"),
    ("200000000.20", "贰亿元贰角"),
    # PBoC examples (where the rule allows two forms, the first one written there is the one chosen)
    ("1409.50", "壹仟肆佰零玖元伍角"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("107000.53", "壹拾万柒仟元伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    # Counter receipts: 86.40, 200.00 tendered, 113.60 change
    ("86.40", "捌拾陆元肆角"),
    ("200.00", "贰佰元整"),
    ("113.60", "壹佰壹拾叁元陆角"),
    # The largest amount a payment may carry (services.MAX_AMOUNT) and the largest accepted here
    ("999999999.99", "玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("12345678901.23", "壹佰贰拾叁亿肆仟伍佰陆拾柒万捌仟玖佰零壹元贰角叁分"),
]


@pytest.mark.parametrize(("amount", "expected"), CASES)
def test_capitals(amount, expected):
    assert rmb_upper(D(amount)) == expected


def test_an_int_is_taken_as_yuan():
    assert rmb_upper(1005) == "壹仟零伍元整"


@pytest.mark.parametrize("amount", ["-0.01", "-1", "-100.00"])
def test_negative_refused(amount):
    with pytest.raises(ValueError, match="negative"):
        rmb_upper(D(amount))


@pytest.mark.parametrize("amount", ["1.001", "0.005", "1000000000000", "1000000000000.00", "NaN", "Infinity"])
def test_out_of_range_or_not_to_the_fen_refused(amount):
    with pytest.raises(ValueError):
        rmb_upper(D(amount))


@pytest.mark.parametrize("value", [1.5, "1.50", True, None])
def test_only_decimal_or_int(value):
    with pytest.raises(TypeError):
        rmb_upper(value)
