"""Browser tests in real Chromium on a phone-sized screen: the customer portal's register → bind flow."""

import pytest

from gridcare.core.models import AuditEvent
from gridcare.customers.models import PortalBinding
from gridcare.org.models import User

from ..smscodes import last_sms_code

PHONE = "13600000000"
PASSWORD = "Dian-fei-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args():
    return {"locale": "zh-CN", "viewport": {"width": 390, "height": 844}, "is_mobile": True}


@pytest.fixture
def portal_page(browser_page):
    return browser_page


def test_register_log_in_bind_and_see_the_account(portal_page, live_server, world):
    page = portal_page
    page.goto(f"{live_server.url}/portal/")
    page.get_by_role("link", name="注册", exact=True).first.click()

    # Register; a mismatched confirmation is caught first, and the typed phone is kept.
    page.wait_for_url("**/portal/register/")
    page.fill("#id_phone", PHONE)
    page.get_by_role("button", name="获取验证码").click()
    assert "验证码已发送至 136****0000" in page.inner_text("[data-testid=code-sent]")
    assert page.input_value("#id_phone") == PHONE
    page.fill("#id_code", last_sms_code(PHONE))  # as a tester reads it from the development outbox
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_confirm", PASSWORD + "x")
    page.get_by_role("button", name="注册").click()
    assert "两次输入的密码不一致" in page.inner_text("#id_password_confirm_errors")
    assert page.input_value("#id_phone") == PHONE
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_confirm", PASSWORD)
    page.get_by_role("button", name="注册").click()

    # Log in.
    page.wait_for_url("**/portal/login/")
    assert "注册成功，请登录" in page.inner_text("ul.messages")
    page.fill("#username", PHONE)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal/accounts/")
    assert page.inner_text("[data-testid=whoami]") == PHONE
    assert page.locator("[data-testid=no-accounts]").is_visible()

    # A wrong proof is refused without saying which part was wrong.
    page.get_by_role("link", name="绑定户号").last.click()
    page.wait_for_url("**/portal/bind/")
    page.fill("#id_account_number", "3100000001")
    page.fill("#id_name", "张三")
    page.fill("#id_phone_last4", "0000")
    page.get_by_role("button", name="获取验证码").click()
    assert "户号、户名或手机号后四位不匹配" in page.inner_text("[data-testid=bind-error]")
    assert page.input_value("#id_account_number") == ""

    # The right proof sends a code to the 户号's registered phone; with it the account is bound.
    page.fill("#id_account_number", "3100000001")
    page.fill("#id_name", "张三")
    page.fill("#id_phone_last4", "5678")
    page.get_by_role("button", name="获取验证码").click()
    assert "验证码已发送至 138****5678" in page.inner_text("[data-testid=code-sent]")
    assert page.input_value("#id_account_number") == "3100000001"
    page.fill("#id_code", last_sms_code("13812345678"))
    page.get_by_role("button", name="绑定").click()
    page.wait_for_url("**/portal/accounts/")
    card = page.locator("[data-testid=account-3100000001]")
    assert "3100000001" in card.inner_text()
    assert "东关镇人民路18号" in page.inner_text("[data-testid=account-3100000001] [data-testid=address]")
    assert "东关供电所" in card.inner_text()
    assert "M3100000001" in card.inner_text()
    assert page.locator("[data-testid=account-3200000001]").count() == 0

    # The detail page of the bound account.
    card.get_by_role("link", name="户号 3100000001").click()
    page.wait_for_url("**/portal/accounts/3100000001/")
    assert "东关镇人民路18号" in page.inner_text("[data-testid=address]")

    user = User.objects.get(username=PHONE)
    assert PortalBinding.objects.filter(user=user, account=world.acct_a).exists()
    assert AuditEvent.objects.filter(action="portal.bind", actor=user, customer_id=world.cust_a.pk).exists()


def test_public_query_without_login(portal_page, live_server, world):
    page = portal_page
    page.goto(f"{live_server.url}/portal/query/")
    page.fill("#id_account_number", "3100000001")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=query-result]")
    result = page.inner_text("[data-testid=query-result]")
    assert "张*" in result
    assert "东关供电所" in result
    assert "东关镇人民路18号" not in result

    page.fill("#id_account_number", "3100000001")
    page.fill("#id_name", "李四")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("[data-testid=query-result] [role=alert]")
    assert "未查询到匹配的户号信息" in page.inner_text("[data-testid=query-result]")


def test_change_the_login_phone_after_re_authenticating(portal_page, live_server, world):
    page = portal_page
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#username", world.portal_user.username)
    page.fill("#password", world.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/portal/accounts/")

    # The phone page first asks who you are: a code to the current phone will do.
    page.get_by_role("link", name="更换手机号").click()
    page.wait_for_url("**/portal/reauth/?next=*")
    page.get_by_role("button", name="获取验证码").click()
    assert "137****0000" in page.inner_text("[data-testid=code-sent]")
    page.fill("#id_code", last_sms_code("13700000000"))
    page.get_by_role("button", name="确认").click()

    # Then a code to the new phone.
    page.wait_for_url("**/portal/phone/")
    page.fill("#id_new_phone", "13900000001")
    page.get_by_role("button", name="获取验证码").click()
    assert "139****0001" in page.inner_text("[data-testid=code-sent]")
    page.fill("#id_code", last_sms_code("13900000001"))
    page.get_by_role("button", name="更换手机号").click()
    page.wait_for_url("**/portal/accounts/")
    assert "手机号已更换" in page.inner_text("ul.messages")
    assert page.inner_text("[data-testid=whoami]") == "13900000001"
    assert User.objects.get(pk=world.portal_user.pk).username == "13900000001"
