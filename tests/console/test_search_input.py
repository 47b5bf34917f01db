"""Customer search (issue 10 §5): an empty search and a query over 100 characters each answer a clear
message and no results — on the page, in its export and in the API (`customers?q=`: 422 over 100)."""

import re

import pytest
from django.urls import reverse

from gridcare.core.models import AuditEvent
from tests.factories import CustomerFactory

SEARCH = reverse("console:search")
EXPORT = reverse("console:export")
LONG_MESSAGE = "查询内容最多 100 个字符，当前 101 个，请缩短后再查询"


def result_links(body: str) -> int:
    """Links to customer pages (/customers/<id>/) in the body."""
    return len(re.findall(r'href="/customers/\d+/"', body))


@pytest.fixture
def many(world):
    """Six more customers in station A: "everything" would show them."""
    for n in range(6):
        CustomerFactory(name=f"王{n}", unit=world.station_a)
    return world


@pytest.mark.parametrize("query", [{"q": ""}, {"q": "   "}, {"q": "", "customer_class": "", "segment": ""}])
def test_an_empty_search_shows_a_hint_and_no_results(many, login, query):
    resp = login(many.a_clerk).get(SEARCH, query)
    assert resp.status_code == 200
    body = resp.content.decode()
    assert 'data-testid="search-hint"' in body and "查询条件为空" in body
    assert 'data-testid="results"' not in body and result_links(body) == 0


def test_the_first_visit_explains_what_to_enter(many, login):
    body = login(many.a_clerk).get(SEARCH).content.decode()
    assert 'data-testid="search-hint"' in body and "请输入户号、姓名、手机号、地址或证件号" in body
    assert result_links(body) == 0


def test_a_query_over_100_characters_is_refused_with_a_message(many, login):
    c = login(many.a_clerk)
    resp = c.get(SEARCH, {"q": "张" * 101})
    assert resp.status_code == 400
    body = resp.content.decode()
    assert 'data-testid="search-error"' in body and LONG_MESSAGE in body
    assert 'data-testid="results"' not in body and result_links(body) == 0
    # exactly 100 characters is a search (that finds nobody here)
    ok = c.get(SEARCH, {"q": "张" * 100})
    assert ok.status_code == 200 and "没有找到符合条件的客户" in ok.content.decode()


def test_a_filter_alone_is_a_search(many, login):
    body = login(many.a_clerk).get(SEARCH, {"q": "", "customer_class": "residential"}).content.decode()
    assert 'data-testid="results"' in body and 'data-testid="search-hint"' not in body


def test_a_search_finding_nobody_says_so(many, login):
    body = login(many.a_clerk).get(SEARCH, {"q": "不存在的名字"}).content.decode()
    assert 'data-testid="results"' in body and "没有找到符合条件的客户" in body


@pytest.mark.parametrize("query", [{"q": ""}, {"q": "张" * 101}])
def test_the_export_refuses_what_the_page_refuses(many, login, query):
    c = login(many.a_manager)
    resp = c.get(EXPORT, {**query, "format": "csv"})
    assert resp.status_code == 400
    assert ("查询条件为空" if query["q"] == "" else LONG_MESSAGE) in resp.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="customer.export").exists()


def test_api_refuses_a_query_over_100_characters_in_chinese(many, login):
    c = login(many.a_clerk)
    resp = c.get("/api/v1/customers", {"q": "张" * 101})
    assert resp.status_code == 422
    assert resp.json() == {"detail": [{"field": "q", "message": LONG_MESSAGE}]}
    assert c.get("/api/v1/customers", {"q": "张" * 100}).json()["count"] == 0
