"""One row per job a person (or a schedule) starts: kind, who, parameters, state, progress, result or error, times."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .choices import JobState


class Job(models.Model):
    kind = models.CharField(_("类型"), max_length=64, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    unit = models.ForeignKey(
        "org.SupplyUnit", verbose_name=_("单位"), null=True, blank=True, on_delete=models.PROTECT
    )
    params = models.JSONField(_("参数"), default=dict, blank=True)
    state = models.CharField(_("状态"), max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    done = models.PositiveBigIntegerField(_("已完成"), default=0)
    total = models.PositiveBigIntegerField(_("总数"), null=True, blank=True)
    result = models.JSONField(_("结果"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)
    attempts = models.PositiveIntegerField(_("执行次数"), default=0)
    # The job's work continues elsewhere (e.g. a billing run's chunk tasks), which finish it.
    detached = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
