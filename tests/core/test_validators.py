"""ID check digits, USCC, phones, 户号 and masking — expected values worked out by hand."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from gridcare.core.masking import mask_address, mask_id_number, mask_name, mask_phone
from gridcare.core.validators import (
    id_check_digit,
    uscc_check_char,
    validate_account_number,
    validate_id_number,
    validate_phone,
    validate_uscc,
)


def test_id_check_digit_worked_example():
    # GB 11643 example 11010519491231002X:
    # digits 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    # products 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2 -> "X"
    assert id_check_digit("11010519491231002") == "X"
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


def test_id_check_digit_second_example():
    # 440524188001010014: 4*7+4*9+0+5*5+2*8+4*4+1*2+8*1+8*6+0+0+1*9+0+1*5+0+0+1*2
    # = 28+36+25+16+16+2+8+48+9+5+2 = 195; 195 mod 11 = 8 -> "4"
    assert id_check_digit("44052418800101001") == "4"
    validate_id_number("440524188001010014")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("110105194912310021", "id_check_digit"),  # last char should be X
        ("11010519491231002", "id_format"),  # 17 chars
        ("1101051949123100AX", "id_format"),
        ("110105194902300028", "id_birthdate"),  # 30 February
    ],
)
def test_id_number_rejections(value, code):
    with pytest.raises(ValidationError) as e:
        validate_id_number(value)
    assert e.value.code == code


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_char_is_valid(first17):
    valid = [c for c in "0123456789X" if id_check_digit(first17) == c]
    assert len(valid) == 1


def test_uscc_worked_example():
    # 91350100M000100Y4: sum of alphabet-index × weight over the first 17 chars
    # 9*1+1*3+3*9+5*27+0*19+1*26+0*16+0*17+M(21)*20+0*29+0*25+0*13+1*8+0*24+0*10+Y(30)*30+... computed below
    first17 = "91350100M000100Y4"[:17]
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    total = sum(alphabet.index(c) * w for c, w in zip(first17, weights, strict=True))
    expected = alphabet[(31 - total % 31) % 31]
    assert uscc_check_char(first17) == expected
    # A well-known real code: 91110000802100433B (Sinopec) must validate.
    validate_uscc("91110000802100433B")
    with pytest.raises(ValidationError):
        validate_uscc("91110000802100433C")
    with pytest.raises(ValidationError):
        validate_uscc("9111000080210043IB")  # I is not in the alphabet


@pytest.mark.parametrize("good", ["13812345678", "+8613812345678", "0571-88886666", "01088886666"])
def test_phone_ok(good):
    assert validate_phone(good)


@pytest.mark.parametrize("bad", ["12812345678", "1381234567", "abc", "", "138123456789"])
def test_phone_bad(bad):
    with pytest.raises(ValidationError):
        validate_phone(bad)


def test_account_number():
    assert validate_account_number(" 3100000001 ") == "3100000001"
    for bad in ["310000000", "31000000012", "310000000A", ""]:
        with pytest.raises(ValidationError):
            validate_account_number(bad)


def test_masking_as_spec_c1():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("李") == "李*"
    masked = mask_address("东关镇人民路18号3单元")
    assert masked.endswith("****") and "18号" not in masked
