"""Fixtures for the portal tests: logged-in clients and a way to compare pages that carry CSRF tokens."""

import re

import pytest
from django.test import Client

from gridcare.customers.choices import AccountStatus

from ..factories import make_account

_TOKENS = [
    re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'),
    re.compile(r'"X-CSRFToken": "[^"]*"'),
]


def normalized(response) -> str:
    """The page with its per-render CSRF tokens blanked, so two answers can be compared byte for byte."""
    text = response.content.decode()
    for pattern in _TOKENS:
        text = pattern.sub("TOKEN", text)
    return text


@pytest.fixture
def customer_client(world) -> Client:
    client = Client()
    client.force_login(world.portal_user)
    return client


@pytest.fixture
def closed_account(world):
    """A closed account of 张三 (cust_a) in station A1: right name and digits, but nothing to bind."""
    account = make_account(world.cust_a, "3100000002", world.area_a, address="东关镇人民路20号")
    account.status = AccountStatus.CLOSED
    account.save(update_fields=["status"])
    return account


@pytest.fixture
def gridcare_conf(settings):
    """Returns a setter that overrides keys of settings.GRIDCARE for one test."""

    def set_conf(**values):
        settings.GRIDCARE = {**settings.GRIDCARE, **values}

    return set_conf
