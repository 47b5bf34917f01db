"""Choices of customer credit rating (issue 17, seed 003 §1): event codes by dimension, statuses, grades."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RatedClass(models.TextChoices):
    """The seed's two kinds of customer: 动力户 are rated on six dimensions, 照明户 on payment and legal only."""

    POWER = "power", _("动力户")
    LIGHTING = "lighting", _("照明户")


class Dimension(models.TextChoices):
    """The six dimensions, in the order the rating lists them."""

    PAYMENT = "payment", _("商业资信(付款记录)")
    SAFETY = "safety", _("安全信用")
    LEGAL = "legal", _("法律信用")
    COOPERATION = "cooperation", _("合作信用")
    CONDUCT = "conduct", _("经营行为")
    POTENTIAL = "potential", _("发展潜力")


class EventCode(models.TextChoices):
    """Every event the rules score (issue 17 "The rating, exactly")."""

    # payment (付款记录)
    ARREARS = "arrears", _("拖欠电费")
    ARREARS_CLEARED_NEXT_MONTH = "arrears_cleared_next_month", _("次月及时补齐欠费")
    WRONG_BANK_ACCOUNT = "wrong_bank_account", _("有意提供错误帐号致委托无效")
    ABSCONDER_REPORT = "absconder_report", _("提供欠费人逃匿信息属实")
    # safety (安全信用)
    ACCIDENT = "accident", _("电气安全事故")
    TRIP_BRANCH = "trip_branch", _("越级跳闸(顶跳分支开关)")
    TRIP_SUBSTATION = "trip_substation", _("越级跳闸(顶跳变电站开关)")
    CONCEALMENT = "concealment", _("隐瞒事故不报")
    UNQUALIFIED_ELECTRICIAN = "unqualified_electrician", _("进网作业电工资格不符")
    RULES_MISSING = "rules_missing", _("运行管理制度不健全")
    # legal (法律信用)
    THEFT = "theft", _("窃电")
    VIOLATION = "violation", _("违约用电")
    OBSTRUCTION = "obstruction", _("阻碍、扰乱电力生产建设秩序")
    FACILITY_DAMAGE = "facility_damage", _("破坏或危害电力设施")
    REPORT_COOPERATION = "report_cooperation", _("主动举报并配合调查")
    # cooperation (合作信用)
    CONTRACT_BAD_FAITH = "contract_bad_faith", _("未诚信签订或变更供用电合同")
    NO_TEST_COOPERATION = "no_test_cooperation", _("未配合设备预试、定校")
    INSPECTION_REFUSED = "inspection_refused", _("未配合用电检查")
    RECTIFICATION_OVERDUE = "rectification_overdue", _("未按期整改")
    DISPATCH_RULES_IGNORED = "dispatch_rules_ignored", _("不执行电网调度条例")


DIMENSION_OF: dict[str, str] = {
    EventCode.ARREARS: Dimension.PAYMENT,
    EventCode.ARREARS_CLEARED_NEXT_MONTH: Dimension.PAYMENT,
    EventCode.WRONG_BANK_ACCOUNT: Dimension.PAYMENT,
    EventCode.ABSCONDER_REPORT: Dimension.PAYMENT,
    EventCode.ACCIDENT: Dimension.SAFETY,
    EventCode.TRIP_BRANCH: Dimension.SAFETY,
    EventCode.TRIP_SUBSTATION: Dimension.SAFETY,
    EventCode.CONCEALMENT: Dimension.SAFETY,
    EventCode.UNQUALIFIED_ELECTRICIAN: Dimension.SAFETY,
    EventCode.RULES_MISSING: Dimension.SAFETY,
    EventCode.THEFT: Dimension.LEGAL,
    EventCode.VIOLATION: Dimension.LEGAL,
    EventCode.OBSTRUCTION: Dimension.LEGAL,
    EventCode.FACILITY_DAMAGE: Dimension.LEGAL,
    EventCode.REPORT_COOPERATION: Dimension.LEGAL,
    EventCode.CONTRACT_BAD_FAITH: Dimension.COOPERATION,
    EventCode.NO_TEST_COOPERATION: Dimension.COOPERATION,
    EventCode.INSPECTION_REFUSED: Dimension.COOPERATION,
    EventCode.RECTIFICATION_OVERDUE: Dimension.COOPERATION,
    EventCode.DISPATCH_RULES_IGNORED: Dimension.COOPERATION,
}

# Codes the system derives by itself (never typed by hand): from the ledger, and from an overdue rectification.
DERIVED_CODES = frozenset(
    {EventCode.ARREARS, EventCode.ARREARS_CLEARED_NEXT_MONTH, EventCode.RECTIFICATION_OVERDUE}
)
# Codes staff record with evidence (a second person approves before they score). wrong_bank_account is proposed
# by a failed withholding and confirmed by staff; staff may also record it by hand.
RECORDABLE_CODES = [c for c in EventCode if c not in DERIVED_CODES]


class EventSource(models.TextChoices):
    LEDGER = "ledger", _("账务派生")
    WITHHOLDING = "withholding", _("代扣失败")
    STAFF = "staff", _("人工登记")
    INSPECTION = "inspection", _("用电检查")


class EventStatus(models.TextChoices):
    """Only `active` events score. A candidate waits for staff to confirm it; a recorded event for a second
    person's approval; a contested one for the decision."""

    CANDIDATE = "candidate", _("待确认")
    PENDING = "pending", _("待审批")
    ACTIVE = "active", _("有效")
    CONTESTED = "contested", _("申诉中")
    REJECTED = "rejected", _("已驳回")
    DISMISSED = "dismissed", _("不予确认")
    VOID = "void", _("已撤销")


SCORING_STATUSES = (EventStatus.ACTIVE,)


class ContestStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    UPHELD = "upheld", _("维持原记录")
    ANNULLED = "annulled", _("撤销该记录")


class ContestChannel(models.TextChoices):
    PORTAL = "portal", _("网上国网/门户")
    HALL = "hall", _("营业厅")
    MANAGER = "manager", _("客户经理")


class AssessmentStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    APPROVED = "approved", _("已复核")
    REJECTED = "rejected", _("退回")


class Grade(models.TextChoices):
    """四等六级, from high to low."""

    AAA = "AAA", "AAA"
    AA = "AA", "AA"
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"


GRADE_ORDER = ["AAA", "AA", "A", "B", "C", "D"]  # index = steps below the top


class InspectionClass(models.TextChoices):
    """Why a customer is inspected periodically (the shortest interval of the classes it falls in wins)."""

    HIGH_VOLTAGE = "hv", _("高压客户")
    IMPORTANT = "important", _("重要客户")
    LV_BUSINESS = "lv_business", _("低压非居民客户")


class InspectionKind(models.TextChoices):
    PERIODIC = "periodic", _("周期检查")
    SPECIAL = "special", _("专项检查")


class InspectionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("待检查")
    DONE = "done", _("已检查")
    REFUSED = "refused", _("客户拒绝检查")
    CANCELLED = "cancelled", _("已取消")


class ItemResult(models.TextChoices):
    OK = "ok", _("合格")
    DEFECT = "defect", _("存在问题")
    NA = "na", _("不适用")


class NoticeStatus(models.TextChoices):
    OPEN = "open", _("整改中")
    DONE = "done", _("已整改")
    OVERDUE = "overdue", _("逾期未整改")


class RunKind(models.TextChoices):
    MONTHLY = "monthly", _("月度评价")
    SINGLE = "single", _("单户评价")


class RunStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("进行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class Measure(models.TextChoices):
    """Risk measures by grade (issue 17 §4); which grade gets which is configured on the policy."""

    DEPOSIT_WAIVED = "deposit_waived", _("免收电费保证金")
    PRIORITY_SERVICE = "priority_service", _("优先服务")
    SPLIT_SETTLEMENT = "split_settlement", _("建议分次结算")
    DUNNING_EARLIER = "dunning_earlier", _("提前一步催费")
    DEPOSIT_OR_PREPAID = "deposit_or_prepaid", _("新增容量前须交保证金或预付费")
    CONNECTION_FLAG = "connection_flag", _("新装增容申请标记风险")
