"""The payments app's models. Each sub-package holds its own in its `models.py`; they are imported here so
Django registers them all under the one app label ``payments``, whose migrations stay in payments/migrations
(the database is the same as before the split)."""

from .channels.models import (  # noqa: F401
    AgentNonce,
    CollectionAgent,
    PaymentOrder,
    Terminal,
    TerminalNonce,
    WechatPlatformKey,
    WithholdingAgreement,
    WithholdingBatch,
    WithholdingItem,
)
from .collections.models import (  # noqa: F401
    HOOK_CASE,
    OPEN_CASE,
    CollectionTask,
    DunningNotice,
    DunningPolicy,
)
from .counter.models import (  # noqa: F401
    CashierShift,
    CounterReceipt,
)
from .ledger.models import (  # noqa: F401
    MONEY,
    Allocation,
    FeeWaiver,
    LedgerEntry,
    Payment,
    Receivable,
    Refund,
    RefundPart,
)
from .prepaid.models import (  # noqa: F401
    PrepaidAccount,
    PrepaidAlert,
    PrepaidEstimate,
)
from .reconciliation.models import (  # noqa: F401
    ReconciliationException,
    StatementImport,
)
