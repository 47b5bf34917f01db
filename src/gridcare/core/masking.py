"""Masking of personal data as SPEC C1 says: phone 138****5678, ID first 6 + last 4, name 张*."""


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
