from django.db import models
from django.utils.translation import gettext_lazy as _


class UnitLevel(models.TextChoices):
    COMPANY = "company", _("供电公司")
    BUREAU = "bureau", _("供电局")
    STATION = "station", _("供电所")
