"""Simplified Chinese unless the user picks English in the header (cookie), whatever the browser asks for."""


class ChineseByDefaultMiddleware:
    """Drop Accept-Language before LocaleMiddleware so only the language switch (cookie) changes the UI."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
