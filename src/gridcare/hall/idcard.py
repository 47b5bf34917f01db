"""The second-generation ID-card reader (二代身份证读卡器) of a self-service terminal, behind one adapter.

A terminal reads the card with its own reader (the vendor's SDK over the ISO 14443 type B chip) and posts what it
read — name, ID number, address — through the signed terminal API. GridCare sees a reader through the
`IdCardReader` interface only: `PostedReader` is the card a terminal posted; `SimulatedReader` is the reader for
development and demos, which "reads" a configured card (or the demo card) without any hardware. Whatever the
reader, `card_clean` checks the fields (the number by GB 11643 with its check digit) before anything is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridcare.core.validators import validate_id_number

NAME_MAX = 30
ADDRESS_MAX = 120

# The demo card: a made-up resident of the demo county; the number carries a valid check digit.
DEMO_CARD = {"name": "王五", "id_number": "11010519491231002X", "address": "城关镇人民路1号"}


@dataclass(frozen=True)
class IdCard:
    """What a reader read from one card (the photo and the validity dates are not used)."""

    name: str
    id_number: str
    address: str


class IdCardReader(Protocol):
    """A card reader: `read()` gives the card on the reader, or None when there is none."""

    def read(self) -> IdCard | None: ...


def card_clean(*, name, id_number, address) -> IdCard:
    """The card with its fields checked and trimmed; ValidationError naming every bad field."""
    errs: dict[str, list[str]] = {}
    name = str(name or "").strip()
    address = str(address or "").strip()
    if not name:
        errs["name"] = [_("姓名不能为空")]
    elif len(name) > NAME_MAX:
        errs["name"] = [_("姓名最多 %(n)d 个字符") % {"n": NAME_MAX}]
    if len(address) > ADDRESS_MAX:
        errs["address"] = [_("住址最多 %(n)d 个字符") % {"n": ADDRESS_MAX}]
    try:
        number = validate_id_number(str(id_number or ""))
    except ValidationError as exc:
        errs["id_number"] = list(exc.messages)
        number = ""
    if errs:
        raise ValidationError(errs)
    return IdCard(name=name, id_number=number, address=address)


class PostedReader:
    """The card a terminal's reader read and posted (the signed `POST /terminal/id-card`)."""

    def __init__(self, *, name, id_number, address):
        self.fields = {"name": name, "id_number": id_number, "address": address}

    def read(self) -> IdCard | None:
        return card_clean(**self.fields)


class SimulatedReader:
    """The development reader: reads the configured card, the demo card by default, or None once removed."""

    def __init__(self, card: dict | None = None):
        self.card: dict | None = dict(card or DEMO_CARD)

    def remove(self) -> None:
        self.card = None

    def insert(self, card: dict) -> None:
        self.card = dict(card)

    def read(self) -> IdCard | None:
        return card_clean(**self.card) if self.card is not None else None
