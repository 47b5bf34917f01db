"""The lifecycle of every order type, in one place (issue 15 §2).

`STEPS[type]` is the type's path; the action that moves an order forward is named after the step it leads to
(`accept` → accepted, `dispatch` → dispatched, …, `callback`, `close`). Besides the path, every open order may be:
- returned to the previous step (`return`, a reason required; not from `created`);
- escalated, transferred to another unit (the clock keeps running) or merged into an open duplicate (→ `merged`,
  terminal);
- chased by the customer (催办: recorded, priority raised).
A 不满意 callback reopens the order at `REOPEN_TO[type]` for re-handling (the callback step is not reached).
Consultations and praise may skip the callback: answered → closed is allowed, answered → callback → closed too.
`RESOLUTION[type]` is the step after which a callback is due; `MEETS[step]` the deadline a step meets."""

from .choices import OrderType, Step

_FAULT = [
    Step.CREATED,
    Step.ACCEPTED,
    Step.DISPATCHED,
    Step.DEPARTED,
    Step.ARRIVED,
    Step.RESTORED,
    Step.CALLBACK,
    Step.CLOSED,
]
_COMPLAINT = [
    Step.CREATED,
    Step.ACCEPTED,
    Step.ASSIGNED,
    Step.CONTACTED,
    Step.REPLIED,
    Step.CALLBACK,
    Step.CLOSED,
]
_REQUEST = [Step.CREATED, Step.ACCEPTED, Step.ASSIGNED, Step.COMPLETED, Step.CALLBACK, Step.CLOSED]
_ANSWER = [Step.CREATED, Step.ANSWERED, Step.CALLBACK, Step.CLOSED]

STEPS: dict[str, list[str]] = {
    OrderType.FAULT: _FAULT,
    OrderType.COMPLAINT: _COMPLAINT,
    OrderType.REPORT: _COMPLAINT,
    OrderType.OPINION: _REQUEST,
    OrderType.SERVICE_REQUEST: _REQUEST,
    OrderType.CONSULTATION: _ANSWER,
    OrderType.PRAISE: _ANSWER,
}
OPTIONAL_CALLBACK = frozenset({OrderType.CONSULTATION, OrderType.PRAISE})

# The action that leads to each step.
ACTION_TO_STEP: dict[str, str] = {
    "accept": Step.ACCEPTED,
    "dispatch": Step.DISPATCHED,
    "depart": Step.DEPARTED,
    "arrive": Step.ARRIVED,
    "restore": Step.RESTORED,
    "assign": Step.ASSIGNED,
    "contact": Step.CONTACTED,
    "reply": Step.REPLIED,
    "complete": Step.COMPLETED,
    "answer": Step.ANSWERED,
    "callback": Step.CALLBACK,
    "close": Step.CLOSED,
}
STEP_ACTION = {step: action for action, step in ACTION_TO_STEP.items()}
SIDE_ACTIONS = ("return", "escalate", "transfer", "merge", "chase")

RESOLUTION: dict[str, str] = {
    OrderType.FAULT: Step.RESTORED,
    OrderType.COMPLAINT: Step.REPLIED,
    OrderType.REPORT: Step.REPLIED,
    OrderType.OPINION: Step.COMPLETED,
    OrderType.SERVICE_REQUEST: Step.COMPLETED,
    OrderType.CONSULTATION: Step.ANSWERED,
    OrderType.PRAISE: Step.ANSWERED,
}
REOPEN_TO: dict[str, str] = {
    OrderType.FAULT: Step.ACCEPTED,  # a crew is sent again
    OrderType.COMPLAINT: Step.ASSIGNED,  # contacted and replied again
    OrderType.REPORT: Step.ASSIGNED,
    OrderType.OPINION: Step.ASSIGNED,
    OrderType.SERVICE_REQUEST: Step.ASSIGNED,
    OrderType.CONSULTATION: Step.CREATED,
    OrderType.PRAISE: Step.CREATED,
}
# The deadline each step meets when it is reached.
MEETS: dict[str, str] = {
    Step.ARRIVED: "arrival",
    Step.RESTORED: "restoration",
    Step.CONTACTED: "contact",
    Step.REPLIED: "reply",
    Step.COMPLETED: "complete",
    Step.CALLBACK: "callback",
}
TERMINAL = frozenset({Step.CLOSED, Step.MERGED})


class TransitionError(ValueError):
    """An action the order's type and step do not allow."""


def next_steps(order_type: str, status: str) -> list[str]:
    """The steps an order of `order_type` at `status` may move forward to (empty when terminal)."""
    if status in TERMINAL:
        return []
    path = STEPS[order_type]
    i = path.index(status)
    nxt = [path[i + 1]]
    if order_type in OPTIONAL_CALLBACK and status == Step.ANSWERED:
        nxt.append(Step.CLOSED)
    return nxt


def forward_target(order_type: str, status: str, action: str) -> str:
    """The step `action` leads to from `status`, or TransitionError."""
    target = ACTION_TO_STEP.get(action)
    if target is None or target not in next_steps(order_type, status):
        raise TransitionError(action)
    return target


def previous_step(order_type: str, status: str) -> str:
    """The step a `return` goes back to, or TransitionError (from created, or a terminal step)."""
    if status in TERMINAL or status == Step.CREATED:
        raise TransitionError("return")
    path = STEPS[order_type]
    return path[path.index(status) - 1]


def allowed_actions(order_type: str, status: str) -> list[str]:
    """Every action an order may take now: the forward ones, then the side ones."""
    if status in TERMINAL:
        return []
    actions = [STEP_ACTION[s] for s in next_steps(order_type, status)]
    side = ["return", "escalate", "transfer", "merge", "chase"]
    if status == Step.CREATED:
        side.remove("return")
    return actions + side
