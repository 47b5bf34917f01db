"""The JSON API root (`/api/v1/`): mounts each app's router."""

from ninja import NinjaAPI

api = NinjaAPI(title="GridCare API", version="1", urls_namespace="api")
