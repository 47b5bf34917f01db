"""What the signed machine APIs (terminals, collection agents) share: the ninja auth and the account answer."""

from decimal import Decimal

from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError

from gridcare.core.clientip import client_ip
from gridcare.payments.channels import signed_requests


class SignedAuth:
    """ninja auth: the caller (terminal, agent) whose signature verifies, set on the request as `attr`; else
    401 with `refused` (a message in Chinese, translated when answered)."""

    def __init__(self, callers: signed_requests.Callers, attr: str, refused: str):
        self.callers, self.attr, self.refused = callers, attr, refused

    def __call__(self, request):
        try:
            caller = signed_requests.authenticate(
                self.callers,
                headers=request.headers,
                method=request.method,
                path=request.get_full_path(),
                body=request.body,
                ip=client_ip(request),
            )
        except signed_requests.SignedRequestRefused:
            raise AuthenticationError(message=_(self.refused)) from None
        setattr(request, self.attr, caller)
        return caller


class SignedAccountOut(Schema):
    account_number: str
    name: str
    address: str
    supply_unit: str
    amount_due: Decimal
    credit: Decimal
