class EtalageHandoffMiddleware:
    """Sets the visitor cookie that a login's link call handed back (receivers.linked_at_login) on the
    login's response. Etalage replaces it with the browser's new signed visitor cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        handoff = getattr(request, "etalage_handoff", None)
        if handoff is not None:
            name, value = handoff
            response.set_cookie(name, value, httponly=True, samesite="Lax")
        return response
