"""Audit changes shown to readers without personal-data rights: PII keys masked wherever they stand."""

from gridcare.core.masking import mask_audit_changes


def test_pairs_snapshots_and_lists_are_masked_other_keys_untouched():
    changes = {
        "phone": ["13812345678", "13900002222"],
        "after": {"name": "张三丰", "id_number": "110105198506120019", "segment": "household"},
        "bank_account": "6222021234560128",
        "protected_reason": "家用呼吸机",
        "amount": "100.00",
        "users": [{"name": "李四"}],
        "address": None,
    }
    assert mask_audit_changes(changes) == {
        "phone": ["138****5678", "139****2222"],
        "after": {"name": "张**", "id_number": "110105********0019", "segment": "household"},
        "bank_account": "6222****0128",
        "protected_reason": "***",
        "amount": "100.00",
        "users": [{"name": "李*"}],
        "address": None,
    }
    assert changes["phone"] == ["13812345678", "13900002222"]  # the stored value is not altered
