from django import forms
from django.contrib import admin
from django.template import TemplateSyntaxError

from .models import NoticeTemplate


class NoticeTemplateForm(forms.ModelForm):
    """Refuses a template Django cannot compile, so a rewording never breaks the notices it feeds."""

    class Meta:
        model = NoticeTemplate
        fields = ["kind", "channel", "subject", "body", "wechat_template_id", "wechat_fields"]

    def clean(self):
        from .templates_render import compile_template

        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        sources = [("subject", data.get("subject") or ""), ("body", data.get("body") or "")]
        fields = data.get("wechat_fields") or {}
        if not isinstance(fields, dict):
            self.add_error("wechat_fields", "应为 {字段名: 模板} 形式的 JSON 对象")
            fields = {}
        sources += [("wechat_fields", str(v)) for v in fields.values()]
        for name, source in sources:
            try:
                compile_template(source)
            except TemplateSyntaxError as exc:
                self.add_error(name, f"模板语法错误：{exc}")
        return data


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    """Reference data: a bureau rewords its notices here (Django template syntax, checked on save)."""

    form = NoticeTemplateForm
    list_display = ["kind", "channel", "subject", "updated_at"]
    list_filter = ["kind", "channel"]
