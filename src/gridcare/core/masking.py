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


def _hidden(value) -> str:
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
    "bank_account": lambda v: f"{v[:4]}****{v[-4:]}" if v and "*" not in v and len(v) > 8 else (v or ""),
    "protected_reason": _hidden,
    "wechat_openid": _hidden,
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
