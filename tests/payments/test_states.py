"""The one table of allowed state transitions per payments model (`payments.states`, issue 12 §4): an allowed
and a refused move for each model, the refusal's message, and that each status field is typed with the
table's states."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from gridcare.payments.models import (
    CashierShift,
    FeeWaiver,
    Payment,
    PaymentOrder,
    ReconciliationException,
    Refund,
    StatementImport,
    WithholdingBatch,
    WithholdingItem,
)
from gridcare.payments.states import TRANSITIONS, TransitionRefused, allowed, check_transition

# model, an allowed (old, new), a refused (old, new)
CASES = [
    (Payment, ("posted", "reversed"), ("reversed", "posted")),
    (PaymentOrder, ("created", "paid"), ("paid", "created")),
    (PaymentOrder, ("created", "closed"), ("closed", "paid")),
    (FeeWaiver, ("pending", "approved"), ("rejected", "approved")),
    (FeeWaiver, ("pending", "rejected"), ("approved", "rejected")),
    (Refund, ("pending", "approved"), ("approved", "pending")),
    (CashierShift, ("open", "closed"), ("closed", "open")),
    (WithholdingBatch, ("exported", "settled"), ("settled", "exported")),
    (WithholdingItem, ("pending", "debited"), ("failed", "debited")),
    (WithholdingItem, ("pending", "failed"), ("debited", "failed")),
    (StatementImport, ("current", "superseded"), ("current", "current")),
    (StatementImport, ("superseded", "current"), ("superseded", "superseded")),
    (ReconciliationException, ("open", "resolved"), ("resolved", "open")),
    (ReconciliationException, ("open", "superseded"), ("superseded", "resolved")),
]


@pytest.mark.parametrize(("model", "ok", "refused"), CASES, ids=lambda v: getattr(v, "__name__", None))
def test_the_table_allows_one_move_and_refuses_another(model, ok, refused):
    check_transition(model, *ok)  # no error
    with pytest.raises(TransitionRefused) as exc:
        check_transition(model, *refused)
    assert isinstance(exc.value, ValidationError) and list(exc.value.message_dict) == ["status"]


def test_the_refusal_names_the_model_and_both_states_in_chinese():
    with translation.override("zh-hans"), pytest.raises(TransitionRefused) as exc:
        check_transition(Refund, "approved", "rejected")
    assert exc.value.message_dict == {"status": ["退费的状态不能从「已批准」变为「已驳回」"]}


def test_final_states_lead_nowhere():
    assert allowed(Payment, "reversed") == set()
    assert allowed(WithholdingBatch, "settled") == set()
    assert allowed(ReconciliationException, "resolved") == set()
    assert allowed(PaymentOrder, "created") == {"paid", "closed"}


@pytest.mark.parametrize("model", list(TRANSITIONS), ids=lambda m: m.__name__)
def test_each_status_field_is_typed_with_the_states_of_its_table(model):
    choices = {value for value, _label in model._meta.get_field("status").choices}
    in_table = set(TRANSITIONS[model]) | {s for targets in TRANSITIONS[model].values() for s in targets}
    assert in_table <= choices  # the table speaks of real states only
    assert model._meta.get_field("status").default in TRANSITIONS[model]  # a new row can move on
