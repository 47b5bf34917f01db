"""The OpenAPI document tells the truth: unique schema names, the right bodies, every status the plumbing
can answer, and real responses that validate against the documented schemas."""

import json
import re
import typing
from collections import defaultdict
from datetime import date, datetime

import pytest
from django.test import Client
from ninja import NinjaAPI, Router, Schema
from pydantic import BaseModel

from gridcare.api import api

from .conftest import API

# ---------------------------------------------------------------- helpers


def _models_in(annotation):
    """Every pydantic model inside a type annotation (list[X], X | None, dict[str, X], ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def schema_classes_by_name(the_api) -> dict[str, set[type]]:
    """Every Schema class a route of `the_api` reads or answers (walked through their fields), by the
    name it gets in the document's components. ninja keys components by class name, so two classes
    with one name silently become one component: this finds them before ninja hides them."""
    by_name: dict[str, set[type]] = defaultdict(set)
    seen: set[type] = set()

    def walk(cls, *, wrapper=False):
        if cls in seen:
            return
        seen.add(cls)
        if not wrapper:
            by_name[cls.__name__].add(cls)
        for field in cls.model_fields.values():
            for sub in _models_in(field.annotation):
                walk(sub)

    for bound in the_api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                # ninja's own wrappers (the view's parameter models, NinjaResponseSchema) are not components.
                for model in op.signature.models:
                    walk(model, wrapper=True)
                for model in op.response_models.values():
                    if isinstance(model, type) and issubclass(model, BaseModel):
                        walk(model, wrapper=True)
    return by_name


def duplicates(the_api) -> dict[str, list[str]]:
    return {
        name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
        for name, classes in schema_classes_by_name(the_api).items()
        if len(classes) > 1
    }


@pytest.fixture(scope="module")
def doc():
    # As clients read it: JSON (status codes become strings).
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), default=str))


def resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def validate(doc, instance, schema, where="$") -> list[str]:
    """A JSON Schema check for what ninja emits ($ref, anyOf/allOf, type, properties/required, items,
    additionalProperties, enum, date/date-time formats); a list of problems, empty when it conforms."""
    schema = resolve(doc, schema)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        if any(not validate(doc, instance, s, where) for s in options):
            return []
        return [f"{where}: {instance!r} matches none of {len(options)} options"]
    errors = []
    for s in schema.get("allOf", []):
        errors += validate(doc, instance, s, where)
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    if kinds and not any(checks[k](instance) for k in kinds):
        return [*errors, f"{where}: {instance!r} is not {kind}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{where}: {instance!r} not in {schema['enum']}")
    if isinstance(instance, str) and schema.get("format") == "date":
        try:
            date.fromisoformat(instance)
        except ValueError:
            errors.append(f"{where}: {instance!r} is not a date")
    if isinstance(instance, str) and schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(instance)
        except ValueError:
            errors.append(f"{where}: {instance!r} is not a date-time")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{where}: missing required {name!r}")
        for name, value in instance.items():
            if name in props:
                errors += validate(doc, value, props[name], f"{where}.{name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(doc, value, schema["additionalProperties"], f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected {name!r}")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors += validate(doc, item, schema["items"], f"{where}[{i}]")
    return errors


def check_response(doc, method, template, resp) -> list[str]:
    op = doc["paths"][template][method]
    documented = op["responses"].get(str(resp.status_code))
    if documented is None:
        return [
            f"{method.upper()} {template}: status {resp.status_code} not documented ({list(op['responses'])})"
        ]
    content = documented.get("content")
    if not content:
        return []
    media = resp["Content-Type"].split(";")[0]
    if media not in content:
        return [f"{method.upper()} {template}: content type {media} not documented ({list(content)})"]
    if media != "application/json":
        return []
    return [
        f"{method.upper()} {template} {resp.status_code}: {e}"
        for e in validate(doc, resp.json(), content[media]["schema"])
    ]


# ---------------------------------------------------------------- schema names


def test_no_two_schema_classes_share_a_component_name():
    assert duplicates(api) == {}


def test_the_duplicate_finder_catches_two_classes_with_one_name():
    """ninja keeps only one of two same-named schemas in the document; the finder still sees both."""

    def make(field):
        return type("ThingOut", (Schema,), {"__annotations__": {field: int}})

    first, second = make("a"), make("b")
    one, two = Router(), Router()
    one.get("/one", response=first)(lambda request: {"a": 1})
    two.get("/two", response=list[second])(lambda request: [])
    probe = NinjaAPI(urls_namespace="dupe_probe")
    probe.add_router("", one)
    probe.add_router("", two)
    assert list(duplicates(probe)) == ["ThingOut"]
    # ...and the document, keyed by name, holds only one of them: exactly the harm the test prevents.
    components = probe.get_openapi_schema(path_prefix="")["components"]["schemas"]
    assert len([n for n in components if n == "ThingOut"]) == 1


def test_component_names_are_unique_in_the_document(doc):
    # Every component the document names is defined once and every $ref points at a defined one.
    text = json.dumps(doc)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs <= set(doc["components"]["schemas"])


# ---------------------------------------------------------------- bodies and answers


def _body_schema(doc, path, method="post"):
    return resolve(doc, doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])


def test_billing_run_create_documents_period_and_route_not_a_date(doc):
    body = _body_schema(doc, "/api/v1/billing/runs")
    assert set(body["properties"]) == {"period", "route_code"}
    assert body["required"] == ["period"]
    # The dunning run's body (a date) stays its own schema.
    assert set(_body_schema(doc, "/api/v1/collections/runs")["properties"]) == {"date"}


def test_billing_run_detail_answers_the_billing_run_schema(doc):
    ok = resolve(
        doc,
        doc["paths"]["/api/v1/billing/runs/{run_id}"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"],
    )
    assert {"period", "route_code", "billed_count"} <= set(ok["properties"])


def test_account_statement_and_channel_statement_are_two_schemas(doc):
    statement = doc["paths"]["/api/v1/accounts/{account_number}/statement"]["get"]["responses"]["200"]
    account = resolve(doc, statement["content"]["application/json"]["schema"])
    assert {"account_number", "amount_due", "bills"} <= set(account["properties"])
    recon = doc["paths"]["/api/v1/reconciliations"]["get"]["responses"]["200"]["content"]["application/json"]
    channel = resolve(doc, recon["schema"]["items"])
    assert {"channel", "statement_date", "matched_count"} <= set(channel["properties"])


def test_every_route_documents_the_errors_the_plumbing_can_answer(doc):
    # The payment channels' notification URLs read raw bytes (no ninja parameters): they answer their
    # channel's own protocol and are checked in tests/payments/channels/test_notify.py.
    missing = []
    for path, methods in doc["paths"].items():
        if path.startswith("/api/v1/pay/"):
            continue
        for method, op in methods.items():
            codes = set(op["responses"])
            json_body = "application/json" in op.get("requestBody", {}).get("content", {})
            if op.get("security") and "401" not in codes:
                missing.append(f"{method} {path}: 401")
            if (op.get("parameters") or "requestBody" in op) and "422" not in codes:
                missing.append(f"{method} {path}: 422")
            if json_body and "400" not in codes:
                missing.append(f"{method} {path}: 400")
    assert missing == []


def test_a_body_that_is_not_json_answers_the_documented_400(w, login, doc):
    resp = login(w.admin).post(f"{API}/customers", data=b"\xff{not json", content_type="application/json")
    assert resp.status_code == 400
    assert check_response(doc, "post", "/api/v1/customers", resp) == []


def test_a_path_parameter_of_the_wrong_type_answers_the_documented_422(w, login, doc):
    resp = login(w.admin).get(f"{API}/billing/runs/not-a-number")
    assert resp.status_code == 422
    assert check_response(doc, "get", "/api/v1/billing/runs/{run_id}", resp) == []


def test_alipay_notify_documents_its_plain_text_answer(doc):
    ok = doc["paths"]["/api/v1/pay/alipay/notify"]["post"]["responses"]["200"]
    assert ok["content"]["text/plain"]["schema"]["enum"] == ["success", "failure"]


# ---------------------------------------------------------------- real responses against the document


def test_the_validator_refuses_what_does_not_match(doc):
    schema = {"$ref": "#/components/schemas/AccountStatementOut"}
    problems = validate(doc, {"id": 1, "channel": "alipay"}, schema)
    assert any("missing required 'account_number'" in p for p in problems)
    assert validate(doc, [1, "x"], {"type": "array", "items": {"type": "integer"}}) == [
        "$[1]: 'x' is not integer"
    ]


def test_every_collection_route_answers_what_the_document_says(w, login, doc):
    """Each GET route without path parameters, as the company admin and as an anonymous caller, with the
    small world of the fixtures: the status is documented and the body validates against its schema."""
    admin, anonymous = login(w.admin), Client()
    problems, seen = [], 0
    for template, methods in doc["paths"].items():
        op = methods.get("get")
        if op is None or "{" in template or template.endswith("openapi.json"):
            continue
        required = [p for p in op.get("parameters", []) if p.get("required")]
        if required:
            continue
        for client in (admin, anonymous):
            resp = client.get(template)
            problems += check_response(doc, "get", template, resp)
            seen += 1
    assert seen >= 40
    assert problems == []


def test_object_routes_answer_what_the_document_says(w, login, doc):
    admin = login(w.admin)
    calls = {
        "/api/v1/customers/{customer_id}": f"{API}/customers/{w.cust_a.pk}",
        "/api/v1/customers/{customer_id}/accounts": f"{API}/customers/{w.cust_a.pk}/accounts",
        "/api/v1/customers/{customer_id}/audit": f"{API}/customers/{w.cust_a.pk}/audit",
        "/api/v1/accounts/{account_number}": f"{API}/accounts/3100000001",
        "/api/v1/accounts/{account_number}/holdings": f"{API}/accounts/3100000001/holdings",
        "/api/v1/accounts/{account_number}/statement": f"{API}/accounts/3100000001/statement",
        "/api/v1/accounts/{account_number}/ledger": f"{API}/accounts/3100000001/ledger",
        "/api/v1/accounts/{account_number}/prepaid": f"{API}/accounts/3100000001/prepaid",
        "/api/v1/collections/accounts/{account_number}/timeline": f"{API}/collections/accounts/3100000001/timeline",
        "/api/v1/billing/runs/{run_id}": f"{API}/billing/runs/999999",
    }
    problems, statuses = [], {}
    for template, url in calls.items():
        resp = admin.get(url)
        statuses[template] = resp.status_code
        problems += check_response(doc, "get", template, resp)
    assert problems == []
    assert statuses["/api/v1/accounts/{account_number}/statement"] == 200
    assert statuses["/api/v1/billing/runs/{run_id}"] == 404


def test_a_nul_in_the_refund_status_filter_is_a_documented_422(w, login, doc):
    # Found by the fuzzer: PostgreSQL text cannot hold NUL, so the filter must refuse it before the query.
    resp = login(w.admin).get(f"{API}/refunds", {"status": "pending\x00"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["field"] == "status"
    assert check_response(doc, "get", "/api/v1/refunds", resp) == []


def test_the_daily_sheet_documents_its_404(doc):
    assert "404" in doc["paths"]["/api/v1/shifts/daily-sheet"]["get"]["responses"]


def test_a_multipart_body_without_a_boundary_is_a_documented_400(world, login):
    """Found by the fuzzer: `Content-Type: multipart/form-data` with no boundary answered 500 on upload routes."""
    client = login(world.admin)
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/reconciliations", "/api/v1/withholding/results"):
        resp = client.post(path, data=b"x", content_type="multipart/form-data")
        assert resp.status_code == 400, (path, resp.content)
        assert "multipart/form-data" in resp.json()["detail"]
        assert "400" in schema["paths"][path]["post"]["responses"]


def test_a_nul_on_a_route_that_reads_its_raw_body_is_a_documented_422(world, login):
    """Found by the long fuzz sweep: WeChat Pay's notify reads its raw body, so no schema documented the 422 the
    NUL guard answers for it."""
    client = login(world.admin)
    schema = client.get("/api/v1/openapi.json").json()
    assert "422" in schema["paths"]["/api/v1/pay/wechat/notify"]["post"]["responses"]
    resp = client.post("/api/v1/pay/wechat/notify", data='{"a": "x\\u0000"}', content_type="application/json")
    assert resp.status_code == 422
