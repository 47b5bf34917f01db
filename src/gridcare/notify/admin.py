from django.contrib import admin

from .models import NoticeTemplate


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(admin.ModelAdmin):
    """Reference data: a bureau rewords its notices here (Django template syntax, checked at enqueue)."""

    list_display = ["kind", "channel", "subject", "updated_at"]
    list_filter = ["kind", "channel"]
