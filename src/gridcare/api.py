"""The JSON API root (`/api/v1/`): mounts each app's router.

Integrations authenticate with `Authorization: Bearer <key>`; the console's session works too (with
CSRF for unsafe methods). Error shapes and the 401/403/404/422 rules: `gridcare.core.api`;
which route answers 403 and which 404: `gridcare.customers.api`. OpenAPI: `/api/v1/openapi.json`,
interactive docs: `/api/v1/docs`.
"""

from django.conf import settings
from ninja import NinjaAPI

from gridcare.billing.api import router as billing_router
from gridcare.core.api import DEFAULT_AUTH, dates_in_range, document_common_errors, install_error_handlers
from gridcare.core.api import router as core_router
from gridcare.credit.api_evaluate import router as credit_evaluate_router
from gridcare.credit.api_inspections import router as credit_inspections_router
from gridcare.credit.api_register import router as credit_register_router
from gridcare.credit.api_reports import router as credit_reports_router
from gridcare.credit.api_runs import router as credit_runs_router
from gridcare.customers.api import router as customers_router
from gridcare.hall.api_appointments import router as hall_appointments_router
from gridcare.hall.api_queue import router as hall_queue_router
from gridcare.hall.api_ratings import router as hall_ratings_router
from gridcare.hall.api_reports import router as hall_reports_router
from gridcare.hall.api_staffing import router as hall_staffing_router
from gridcare.hall.api_terminal import router as hall_terminal_router
from gridcare.hall.api_terminals import router as hall_terminals_router
from gridcare.jobs.api import install_broker_handler
from gridcare.jobs.api import router as jobs_router
from gridcare.metering.api import router as metering_router
from gridcare.notify.api import router as outbox_router
from gridcare.org.api import router as org_router
from gridcare.outages.api import router as outages_router
from gridcare.outages.api_events import router as outage_events_router
from gridcare.outages.api_indices import router as reliability_indices_router
from gridcare.outages.api_quality import router as reliability_quality_router
from gridcare.payments.channels.api.agents import router as agent_router
from gridcare.payments.channels.api.notify import router as notify_router
from gridcare.payments.channels.api.public import router as public_router
from gridcare.payments.channels.api.terminal import router as terminal_router
from gridcare.payments.channels.api.withholding import router as withholding_router
from gridcare.payments.collections.api import router as collections_router
from gridcare.payments.counter.api import router as counter_router
from gridcare.payments.ledger.api import router as ledger_router
from gridcare.payments.ledger.latefee_api import router as latefee_router
from gridcare.payments.prepaid.api import router as prepaid_router
from gridcare.payments.reconciliation.api import router as reconciliation_router
from gridcare.payments.reports.api import router as reports_router
from gridcare.service.api import router as work_orders_router
from gridcare.service.api_admin import router as service_admin_router
from gridcare.service.api_chat import router as chat_router
from gridcare.service.api_intake import router as intake_router
from gridcare.service.api_kb import router as knowledge_router
from gridcare.service.api_reports import router as service_reports_router

api = NinjaAPI(
    title="GridCare API",
    version="1",
    description="电力客户服务管理系统 GridCare 的 JSON 接口：客户档案、户号、用电地址、计量点、电能表、电网拓扑与审计记录。",
    urls_namespace="api",
    auth=DEFAULT_AUTH,
    # Swagger UI and the schema it reads: off in production unless GRIDCARE_API_DOCS_ENABLED=1.
    docs_url="/docs" if settings.API_DOCS_ENABLED else None,
    openapi_url="/openapi.json" if settings.API_DOCS_ENABLED else None,
)
install_error_handlers(api)
install_broker_handler(api)  # a job that cannot reach the engine's broker: 503, never a 500
api.add_decorator(dates_in_range)  # every date input within 2000-01-01..2100-12-31
api.add_router("", core_router)
api.add_router("", org_router)
api.add_router("", customers_router)
api.add_router("", public_router)
api.add_router("", metering_router)
api.add_router("", billing_router)
api.add_router("", outages_router)
api.add_router("", outage_events_router)
api.add_router("", reliability_indices_router)
api.add_router("", reliability_quality_router)
api.add_router("", ledger_router)
api.add_router("", reports_router)
api.add_router("", withholding_router)
api.add_router("", reconciliation_router)
api.add_router("", collections_router)
api.add_router("", notify_router)
api.add_router("", prepaid_router)
api.add_router("", counter_router)
api.add_router("", terminal_router)
api.add_router("", latefee_router)
api.add_router("", agent_router)
api.add_router("", outbox_router)
api.add_router("", jobs_router)
api.add_router("", work_orders_router)
api.add_router("", intake_router)
api.add_router("", chat_router)
api.add_router("", knowledge_router)
api.add_router("", service_admin_router)
api.add_router("", service_reports_router)
api.add_router("", hall_staffing_router)
api.add_router("", hall_queue_router)
api.add_router("", hall_appointments_router)
api.add_router("", hall_ratings_router)
api.add_router("", hall_terminal_router)
api.add_router("", hall_terminals_router)
api.add_router("", hall_reports_router)
api.add_router("", credit_evaluate_router)
api.add_router("", credit_register_router)
api.add_router("", credit_inspections_router)
api.add_router("", credit_runs_router)
api.add_router("", credit_reports_router)
document_common_errors(api)
