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
from gridcare.customers.api import router as customers_router
from gridcare.jobs.api import install_broker_handler
from gridcare.jobs.api import router as jobs_router
from gridcare.metering.api import router as metering_router
from gridcare.notify.api import router as outbox_router
from gridcare.org.api import router as org_router
from gridcare.payments.api import router as payments_router
from gridcare.payments.api_agents import router as agent_router
from gridcare.payments.api_batch import router as payments_batch_router
from gridcare.payments.api_collections import router as collections_router
from gridcare.payments.api_counter import router as counter_router
from gridcare.payments.api_latefee import router as latefee_router
from gridcare.payments.api_ledger import router as payments_ledger_router
from gridcare.payments.api_public import router as public_router
from gridcare.payments.api_terminal import router as terminal_router
from gridcare.payments.notify_api import router as notify_router

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
api.add_router("", payments_router)
api.add_router("", payments_ledger_router)
api.add_router("", payments_batch_router)
api.add_router("", collections_router)
api.add_router("", notify_router)
api.add_router("", "gridcare.payments.api_prepaid.router")
api.add_router("", counter_router)
api.add_router("", terminal_router)
api.add_router("", latefee_router)
api.add_router("", agent_router)
api.add_router("", outbox_router)
api.add_router("", jobs_router)
document_common_errors(api)
