"""Masking of personal data as SPEC C1 says: phone 138****5678, ID first 6 + last 4, name 张*.

The one place personal data is masked: the console, the portal, the public 户号 query, the terminals, the API,
notices and the audit trail all call these functions, so the same value reads the same everywhere. A customer's
name goes through `mask_customer_name`: a person's name is masked, an organisation's name (a registered
business name, not personal data) is shown as it is — in the console and the portal alike.
"""

import re


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * (len(value) - 2)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_customer_name(name: str | None, kind: str | None) -> str:
    """A customer's name for display: a person's masked (张*), an organisation's in full."""
    if kind == "organisation":
        return name or ""
    return mask_name(name)


def mask_address(address: str | None) -> str:
    """Keep the district part, hide the house: 某某县城关镇****."""
    if not address:
        return ""
    keep = max(3, min(len(address) // 2, 9))
    return address[:keep] + "****"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_bank_account(number: str | None) -> str:
    """6222021234561234 → 6222****1234; a short number is all stars; an already masked one stays as it is."""
    number = (number or "").strip()
    if not number or "*" in number:
        return number
    return f"{number[:4]}****{number[-4:]}" if len(number) > 8 else "*" * len(number)


def mask_account_number(number: str | None) -> str:
    """What an SMS shows of a 户号: only the last four digits (******0001)."""
    number = (number or "").strip()
    return "*" * max(0, len(number) - 4) + number[-4:]


def mask_openid(openid: str | None) -> str:
    """A WeChat user id (微信用户标识): the first four characters (oAbc****); an already masked one stays."""
    openid = (openid or "").strip()
    if not openid or "*" in openid:
        return openid
    return f"{openid[:4]}****"


def mask_hidden(value) -> str:
    """A value never shown, not even in part (a protection reason, a WeChat id in the audit trail): ***."""
    return "***" if value else ""


# Keys of audit `changes` that hold personal data, and how each is masked for display.
AUDIT_PII_KEYS = {
    "name": mask_name,
    "holder_name": mask_name,
    "customer_name": mask_name,
    "phone": mask_phone,
    "phone2": mask_phone,
    "id_number": mask_id_number,
    "email": mask_email,
    "address": mask_address,
    "bank_account": mask_bank_account,
    "protected_reason": mask_hidden,
    "wechat_openid": mask_openid,
}


def mask_audit_changes(changes):
    """An audit row's `changes` for a reader who may not see personal data: the values under the keys of
    AUDIT_PII_KEYS are masked wherever they stand (a [before, after] pair, an "after" snapshot, a list);
    everything else is as recorded. The stored row is never altered."""
    if isinstance(changes, dict):
        out = {}
        for key, value in changes.items():
            masker = AUDIT_PII_KEYS.get(key)
            out[key] = _mask_value(value, masker) if masker else mask_audit_changes(value)
        return out
    if isinstance(changes, list):
        return [mask_audit_changes(v) for v in changes]
    return changes


def _mask_value(value, masker):
    if isinstance(value, list):
        return [_mask_value(v, masker) for v in value]
    if isinstance(value, str):
        return masker(value)
    return value


# Keys of AUDIT_PII_KEYS that are personal data only in a customer's event: elsewhere `name` and `address`
# are a service hall's, a tariff's, a unit's (masked for display all the same, but nobody's personal data).
_CUSTOMER_ONLY_KEYS = {"name", "address"}


def audit_changes_hold_pii(changes, *, about_customer: bool) -> bool:
    """True when showing `changes` whole shows personal data: a value under a key of AUDIT_PII_KEYS that
    masking would change (`name` and `address` count only in a customer's event)."""
    if isinstance(changes, dict):
        for key, value in changes.items():
            masker = AUDIT_PII_KEYS.get(key)
            if masker is not None and (about_customer or key not in _CUSTOMER_ONLY_KEYS):
                if _mask_value(value, masker) != value:
                    return True
            elif masker is None and audit_changes_hold_pii(value, about_customer=about_customer):
                return True
        return False
    if isinstance(changes, list):
        return any(audit_changes_hold_pii(v, about_customer=about_customer) for v in changes)
    return False


_CODE_DIGITS = re.compile(r"\d{4,8}")


def mask_codes(text: str | None) -> str:
    """A sent SMS verification message with its code hidden: 验证码 123456 → 验证码 ******."""
    return _CODE_DIGITS.sub("******", text or "")


_MOBILE = re.compile(r"1\d{10}")


def mask_actor_label(label: str | None) -> str:
    """Who acted, as the audit trail shows it: a portal customer's user name is their mobile number (personal
    data), kept as 138****5678; a staff user name or a channel stays as it is."""
    label = label or ""
    return mask_phone(label) if _MOBILE.fullmatch(label) else label
