from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "gridcare.org"
    label = "org"
    verbose_name = "Organisation"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .sessions import on_user_logged_in

        # Session policy (lifetime), not a business rule: this is the hook every door's login() passes through.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="gridcare.org.session_start")
