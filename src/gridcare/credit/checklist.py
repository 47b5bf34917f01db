"""The default 用电检查 checklist (issue 17 §2): the items an inspector answers ok / defect / n.a. with a finding.

Some items, marked a defect, become credit events (status pending: a second person approves them in the register):
- `electrician` (进网作业电工持证) → `unqualified_electrician`, with the count of unqualified electricians;
- `rules` (运行管理制度) → `rules_missing`;
- `dispatch` (调度协议执行) → `dispatch_rules_ignored`.
A theft finding under `anti_theft` is never recorded from here: theft follows the register's own procedure (the
inspection page links to its record form)."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .choices import EventCode


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    label: str | Promise
    hint: str | Promise = ""
    # The credit event a defect on this item records (None: a defect only goes into the rectification notice).
    event_code: str | None = None


DEFAULT_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("facilities", _("受电设施运行状况"), _("变压器、开关柜、电缆及配电室环境")),
    ChecklistItem("protection", _("继电保护及自动装置"), _("定值、校验周期、动作记录")),
    ChecklistItem(
        "electrician",
        _("进网作业电工持证"),
        _("电工进网作业许可证是否齐全有效；不符合的须填写人数"),
        EventCode.UNQUALIFIED_ELECTRICIAN,
    ),
    ChecklistItem("rules", _("运行管理制度"), _("值班、交接班、操作票、工作票制度"), EventCode.RULES_MISSING),
    ChecklistItem("metering", _("计量装置及封印"), _("电能表、互感器、封印完好")),
    ChecklistItem("safety_tools", _("安全工器具"), _("绝缘工器具按期试验、存放")),
    ChecklistItem("anti_theft", _("反窃电检查"), _("发现窃电须按窃电查处程序另行登记")),
    ChecklistItem(
        "dispatch",
        _("调度协议执行"),
        _("是否执行调度协议及《电网调度条例》"),
        EventCode.DISPATCH_RULES_IGNORED,
    ),
    ChecklistItem("backup_power", _("自备电源/双电源闭锁"), _("防倒送电闭锁装置可靠")),
    ChecklistItem("reactive", _("无功补偿"), _("补偿装置投运、功率因数")),
)

BY_CODE: dict[str, ChecklistItem] = {item.code: item for item in DEFAULT_CHECKLIST}
CODES: tuple[str, ...] = tuple(BY_CODE)
ELECTRICIAN = "electrician"
ANTI_THEFT = "anti_theft"
