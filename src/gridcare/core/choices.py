"""Status and kind values shared by every domain app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    """Through which door a write came in; every audit row records it."""

    CONSOLE = "console", _("员工控制台")
    API = "api", _("接口")
    PORTAL = "portal", _("客户门户")
    JOB = "job", _("后台任务")
    IMPORT = "import", _("批量导入")
    SYSTEM = "system", _("系统")
