"""Notice templates: compiling and rendering the zh-CN wording of each kind on each channel (strict: a
variable the context lacks is an error, never an empty string), with a per-call cache of the templates."""

import logging
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import TextNode, Variable, VariableNode
from django.utils import timezone
from django.utils.formats import localize
from django.utils.translation import gettext as _

from .choices import (
    NotifyChannel,
)
from .defaults import default_templates
from .models import NoticeTemplate

log = logging.getLogger("gridcare.notify")


# ---------------------------------------------------------------- rendering


class _MissingVariable(Exception):
    pass


class _StrictInvalid(str):
    """`string_if_invalid` that refuses instead of printing nothing: a template asking for a variable the
    context lacks is an error at enqueue time, not a blank in a customer's SMS. (`{% if x %}` still works.)"""

    def __contains__(self, item):
        return item == "%s"

    def __mod__(self, var):
        raise _MissingVariable(var)


# Plain text out (SMS, WeChat fields, e-mail text): no HTML escaping.
ENGINE = Engine(autoescape=False, string_if_invalid=_StrictInvalid("%s"), libraries={}, builtins=[])


def _plain(value: Any) -> Any:
    """Amounts with two decimals (half up), dates as 2026年11月9日, times as 2026年11月9日 14:05 (Beijing time)."""
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return value


class _Fast:
    """A template made only of text and plain `{{ name }}` variables, rendered by joining strings.

    Most notices are like that; Django's renderer costs ~100 µs a template, which at a million bills is
    minutes. Anything else (tags, filters, dotted lookups) goes through Django's engine."""

    def __init__(self, parts: list[tuple[bool, str]]):
        self.parts = parts

    def render(self, ctx: "_RenderContext") -> str:
        values = ctx.values
        out = []
        for is_var, text in self.parts:
            if not is_var:
                out.append(text)
            elif text in values:
                v = values[text]
                out.append(v if isinstance(v, str) else str(localize(v)))
            else:
                raise _MissingVariable(text)
        return "".join(out)


class _Slow:
    def __init__(self, template):
        self.template = template

    def render(self, ctx: "_RenderContext") -> str:
        if ctx.django is None:
            ctx.django = Context(ctx.values, autoescape=False)
        return self.template.render(ctx.django)


class _RenderContext:
    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.django: Context | None = None


def compile_template(source: str):
    """Compile with Django's engine (syntax errors surface here), then take the fast path when it can."""
    template = ENGINE.from_string(source)
    parts: list[tuple[bool, str]] = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            parts.append((False, node.s))
        elif (
            isinstance(node, VariableNode)
            and not node.filter_expression.filters
            and isinstance(node.filter_expression.var, Variable)
            and node.filter_expression.var.lookups is not None
            and len(node.filter_expression.var.lookups) == 1
            and not node.filter_expression.var.translate
        ):
            parts.append((True, node.filter_expression.var.lookups[0]))
        else:
            return _Slow(template)
    return _Fast(parts)


class Templates:
    """The kind × channel templates, compiled once per enqueue call."""

    def __init__(self):
        # A kind's rows are read when it is first needed (a receipt reads its three, not all thirty-three).
        self._rows: dict[tuple[str, str], NoticeTemplate] = {}
        self._kinds: set[str] = set()
        self._compiled: dict[tuple[str, str], dict[str, Any]] = {}

    def _load(self, kind: str) -> None:
        defaults = default_templates()
        self._rows.update({k: v for k, v in defaults.items() if k[0] == kind})
        self._rows.update({(t.kind, t.channel): t for t in NoticeTemplate.objects.filter(kind=kind)})
        self._kinds.add(kind)

    def get(self, kind: str, channel: str) -> dict[str, Any]:
        key = (kind, channel)
        if key not in self._compiled:
            if kind not in self._kinds:
                self._load(kind)
            row = self._rows.get(key)
            if row is None:
                raise ValidationError(
                    {"kind": [_("缺少通知模板：%(kind)s / %(channel)s") % {"kind": kind, "channel": channel}]}
                )
            try:
                self._compiled[key] = {
                    "row": row,
                    "subject": compile_template(row.subject),
                    "body": compile_template(row.body),
                    "fields": {k: compile_template(str(v)) for k, v in (row.wechat_fields or {}).items()},
                }
            except TemplateSyntaxError as exc:
                raise ValidationError(
                    {
                        "kind": [
                            _("通知模板有误（%(kind)s / %(channel)s）：%(err)s")
                            % {"kind": kind, "channel": channel, "err": exc}
                        ]
                    }
                ) from exc
        return self._compiled[key]

    def render(self, kind: str, channel: str, context: dict[str, Any]) -> tuple[str, str, dict]:
        t = self.get(kind, channel)
        ctx = _RenderContext({k: _plain(v) for k, v in context.items()})
        try:
            subject = t["subject"].render(ctx).strip()
            body = t["body"].render(ctx).strip()
            payload = {}
            if channel == NotifyChannel.WECHAT:
                payload = {
                    "template_id": t["row"].wechat_template_id,
                    "data": {k: f.render(ctx).strip() for k, f in t["fields"].items()},
                }
        except _MissingVariable as exc:
            raise ValidationError(
                {
                    "context": [
                        _("通知模板 %(kind)s / %(channel)s 需要变量 %(var)s")
                        % {"kind": kind, "channel": channel, "var": exc.args[0]}
                    ]
                }
            ) from None
        return subject[:200], body, payload


def notice_render(*, kind: str, channel: str, context: dict[str, Any]) -> tuple[str, str, dict]:
    """(subject, body, wechat payload) of one notice: for previews and tests."""
    return Templates().render(kind, channel, context)
