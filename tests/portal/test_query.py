"""The public 户号 query page: masked answers, one message for unknown and mismatch, rate-limited."""

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import normalized

URL = reverse("portal:query")
NOT_FOUND = "未查询到匹配的户号信息，请核对户号和户名后重试"


def test_query_page_needs_no_login(client, world):
    response = client.get(URL)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert "输入户号，可查询客户名称、用电地址、供电单位" in response.content.decode()


@pytest.mark.parametrize("name", ["", "张三"])
def test_found_account_shows_masked_name_masked_address_and_supply_unit(client, world, name):
    response = client.post(URL, {"account_number": "3100000001", "name": name})

    assert response.status_code == 200
    page = response.content.decode()
    assert "张*" in page
    assert "东关镇人****" in page
    assert "东关供电所" in page
    assert "张三" not in page
    assert "东关镇人民路18号" not in page
    assert "5678" not in page


@pytest.mark.parametrize(
    "data",
    [
        {"account_number": "3100000001", "name": "张四"},  # mismatch
        {"account_number": "3200000001", "name": "张三"},  # mismatch with another customer's number
        {"account_number": "3100000002", "name": ""},  # closed
        {"account_number": "31000", "name": ""},  # malformed
        {"account_number": "x" * 64, "name": ""},  # malformed
    ],
    ids=["wrong-name", "other-account", "closed", "short", "letters"],
)
def test_unknown_and_mismatch_give_identical_answers(client, world, closed_account, data):
    reference = client.post(URL, {"account_number": "3999999999", "name": ""})

    response = client.post(URL, data)

    assert response.status_code == reference.status_code == 404
    assert normalized(response) == normalized(reference)
    assert NOT_FOUND in response.content.decode()


def test_rate_limited_after_the_configured_number_of_queries(client, world, gridcare_conf):
    gridcare_conf(PUBLIC_QUERY_RATE=2)
    assert client.post(URL, {"account_number": "3100000001"}).status_code == 200
    assert client.post(URL, {"account_number": "3999999999"}).status_code == 404

    response = client.post(URL, {"account_number": "3100000001"})

    assert response.status_code == 429
    page = response.content.decode()
    assert "查询过于频繁，请稍后再试" in page
    assert "东关供电所" not in page
    # The limit is per client address.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post(URL, {"account_number": "3100000001"}).status_code == 200


def test_empty_account_number_is_a_form_error_and_not_counted(client, world, gridcare_conf):
    gridcare_conf(PUBLIC_QUERY_RATE=1)
    assert client.post(URL, {"account_number": ""}).status_code == 400
    assert client.post(URL, {"account_number": "3100000001"}).status_code == 200


def test_query_is_csrf_protected(world):
    client = Client(enforce_csrf_checks=True)
    assert client.post(URL, {"account_number": "3100000001"}).status_code == 403
