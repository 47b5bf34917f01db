"""Models of the payment channels: online payment orders, bank withholding (代扣) agreements, batches and
items, self-service terminals and collection agents (代收机构) with their replay guards, and WeChat Pay's platform
certificates by serial."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridcare.payments.choices import (
    AGENT_CHANNELS,
    BatchStatus,
    ItemStatus,
    OrderStatus,
    PaymentChannel,
)
from gridcare.payments.ledger.models import MONEY, Payment


class PaymentOrder(models.Model):
    """An online payment the customer started (portal, Alipay, WeChat): what the channel's notification must
    match (order number, amount) before a payment is recorded."""

    order_no = models.CharField(_("订单号"), max_length=32)  # unique in Meta (no unused LIKE twin index)
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="payment_orders")
    channel = models.CharField(_("缴费渠道"), max_length=16, choices=PaymentChannel.choices)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    status = models.CharField(
        _("状态"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_index=False,  # indexed in Meta where set: orders a channel or the public page started have none
        related_name="payment_orders",
    )
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # Orders started without logging in (query and pay by 户号, `public_pay`): the SHA-256 of the secret in
    # the payer's pay and receipt links (the secret itself is never stored), when the gateway stops taking
    # payment, and the wallet the payer chose while the sandbox gateway stands in for it.
    public_token_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # unique: Meta
    expires_at = models.DateTimeField(_("支付截止时间"), null=True, blank=True)
    wallet = models.CharField(_("支付方式"), max_length=16, blank=True, default="")
    # With a real channel (issue 13, `online`): how the payer pays (qr, wap, page, h5, jsapi), what the channel
    # answered (the QR code's content or the cashier URL; JSAPI's prepay_id; the payer's openid), what the order
    # is for (display only: payments allocate oldest debt first), and what the query job last saw.
    scene = models.CharField(_("支付方式"), max_length=8, blank=True, default="")
    pay_url = models.TextField(blank=True, default="")
    prepay_id = models.CharField(max_length=64, blank=True, default="")
    openid = models.CharField(max_length=64, blank=True, default="")
    subject = models.CharField(_("商品说明"), max_length=128, blank=True, default="")
    bill_ids = models.JSONField(default=list, blank=True)
    queried_at = models.DateTimeField(null=True, blank=True)
    query_count = models.PositiveSmallIntegerField(default=0)
    channel_state = models.CharField(_("渠道交易状态"), max_length=24, blank=True, default="")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Unique constraints rather than unique=True, which on PostgreSQL adds a varchar_pattern_ops twin that
        # no query uses (equality only), paid when a notification marks its order paid (issue 12 §3).
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_order_amount_positive"),
            models.UniqueConstraint(fields=["order_no"], name="payments_order_no_uniq"),
            models.UniqueConstraint(
                fields=["public_token_hash"],
                condition=Q(public_token_hash__isnull=False),
                name="payments_order_public_token_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="payments_order_creator_idx",
            ),
            # The query and close job reads the orders still waiting, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(status="created"),
                name="payments_order_waiting_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_no} {self.amount}"


class WithholdingAgreement(models.Model):
    """A customer's bank withholding agreement (代扣协议): which bank account pays the account's bills."""

    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="withholding_agreements"
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    bank_code = models.CharField(_("银行代码"), max_length=8)
    bank_name = models.CharField(_("银行名称"), max_length=40)
    bank_account = models.CharField(_("银行账号"), max_length=19)  # personal data: shown masked
    holder_name = models.CharField(_("账户名"), max_length=40)
    active = models.BooleanField(_("有效"), default=True)
    signed_on = models.DateField(_("签约日期"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    deactivated_at = models.DateTimeField(_("解约时间"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(active=True),
                name="payments_withholding_one_active_per_account",
            ),
        ]
        indexes = [models.Index(fields=["bank_code", "active"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.bank_code}"


class WithholdingBatch(models.Model):
    """One debit file sent to a bank (代扣批次): its items, and what the bank's result file said."""

    batch_no = models.CharField(_("批次号"), max_length=32, unique=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    bank_code = models.CharField(_("银行代码"), max_length=8)
    as_of = models.DateField(_("计费日期"))
    status = models.CharField(
        _("状态"), max_length=10, choices=BatchStatus.choices, default=BatchStatus.EXPORTED
    )
    item_count = models.PositiveIntegerField(_("笔数"), default=0)
    total = models.DecimalField(_("总金额(元)"), default=0, **MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(_("回盘完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.batch_no


class WithholdingItem(models.Model):
    """One debit line of a batch: the account, the bank account and the amount asked for."""

    batch = models.ForeignKey(WithholdingBatch, on_delete=models.PROTECT, related_name="items")
    serial = models.PositiveIntegerField(_("序号"))
    account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="+")
    agreement = models.ForeignKey(WithholdingAgreement, on_delete=models.PROTECT, related_name="items")
    bank_account = models.CharField(_("银行账号"), max_length=19)
    holder_name = models.CharField(_("账户名"), max_length=40)
    amount = models.DecimalField(_("金额(元)"), **MONEY)
    status = models.CharField(
        _("状态"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING
    )
    result_code = models.CharField(_("银行返回码"), max_length=8, blank=True)
    result_message = models.CharField(_("银行返回信息"), max_length=100, blank=True)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "serial"], name="payments_withholding_item_serial_uniq"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payments_withholding_item_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.serial}"


class Terminal(models.Model):
    """A self-service payment terminal (自助缴费终端). Only its Ed25519 public key is stored."""

    code = models.CharField(_("终端编号"), max_length=20, unique=True)
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="terminals")
    # The service hall the terminal stands in (monitoring, availability against its opening hours); none for a
    # terminal outside a hall (a bank lobby, a village shop).
    hall = models.ForeignKey(
        "org.ServiceHall",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="terminals",
        verbose_name=_("所在营业厅"),
    )
    name = models.CharField(_("名称/位置"), max_length=100, blank=True)
    public_key = models.TextField(_("公钥(PEM)"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class TerminalNonce(models.Model):  # noqa: DJ008
    """Nonces of accepted terminal requests, kept for the timestamp window so that a replay is refused."""

    terminal = models.ForeignKey(Terminal, on_delete=models.CASCADE, related_name="nonces")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["terminal", "nonce"], name="payments_terminal_nonce_uniq")
        ]
        indexes = [models.Index(fields=["seen_at"])]


class CollectionAgent(models.Model):
    """A collection agent (代收机构): a 代收点 or a 电话银行 that posts signed payments and settles daily by file.

    Only its Ed25519 public key is stored; its kind is the channel of its payments (`payments.channels.agents`)."""

    code = models.CharField(_("机构编号"), max_length=20, unique=True)
    name = models.CharField(_("机构名称"), max_length=100)
    kind = models.CharField(
        _("渠道类型"), max_length=16, choices=[(c.value, c.label) for c in AGENT_CHANNELS]
    )
    unit = models.ForeignKey("org.SupplyUnit", on_delete=models.PROTECT, related_name="collection_agents")
    public_key = models.TextField(_("公钥(PEM)"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AgentNonce(models.Model):  # noqa: DJ008
    """Nonces of accepted collection-agent requests, kept for the timestamp window (as `TerminalNonce`)."""

    agent = models.ForeignKey(CollectionAgent, on_delete=models.CASCADE, related_name="nonces")
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "nonce"], name="payments_agent_nonce_uniq")]
        indexes = [models.Index(fields=["seen_at"])]


class WechatPlatformKey(models.Model):
    """A WeChat Pay platform certificate (平台证书), by serial, as /v3/certificates handed it out."""

    # Uppercase hex, as WeChat writes it in Wechatpay-Serial; unique in Meta (no unused LIKE twin index).
    serial = models.CharField(_("证书序列号"), max_length=64)
    certificate = models.TextField(_("证书 (PEM)"))
    public_key = models.TextField(_("公钥 (PEM)"))
    effective_at = models.DateTimeField(_("启用时间"))
    expires_at = models.DateTimeField(_("过期时间"))
    fetched_at = models.DateTimeField(_("下载时间"))

    class Meta:
        ordering = ["-effective_at"]
        constraints = [models.UniqueConstraint(fields=["serial"], name="payments_wechat_key_serial_uniq")]

    def __str__(self) -> str:
        return self.serial
