"""The Django admin's login form as GridCare runs it (see core.admin_site)."""

from django.contrib.admin.forms import AdminAuthenticationForm


class GridCareAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form with the one message every door gives for every refusal (wrong password, unknown
    name, locked account, a user who may not use the admin): nothing tells an attacker which it was."""

    def get_invalid_login_error(self):
        from django.core.exceptions import ValidationError

        from gridcare.org.services import login_failed_message

        return ValidationError(login_failed_message(), code="invalid_login")

    def confirm_login_allowed(self, user):
        from django.core.exceptions import ValidationError

        from gridcare.org.services import login_failed_message

        if not user.is_active or not user.is_staff:
            raise ValidationError(login_failed_message(), code="invalid_login")
