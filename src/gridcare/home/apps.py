from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The staff home (工作台): reads across the domain apps, so it sits above them."""

    name = "gridcare.home"
