"""Logins, logouts and orders, as Django and Oscar announce them, sent on to Etalage.

The customer id is the user's primary key, the same at every login on every device. The browser is
named by its Etalage visitor cookie, which only exists when the visitor consented: without it there is
nothing to link, and the call is not made.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from oscar.apps.order.signals import order_placed

from etalage_link.client import call


def linked_at_login(sender, request, user, **kwargs) -> None:
    visitor = request.COOKIES.get(settings.ETALAGE_COOKIE)
    if not visitor:
        return
    answer = call("link", {"visitor": visitor, "customer": str(user.pk)})
    if answer:
        # The login's response must set this cookie: Etalage swaps it for the browser's new visitor id.
        request.etalage_handoff = (answer["cookie"], answer["visitor"])


def unlinked_at_logout(sender, request, user, **kwargs) -> None:
    visitor = request.COOKIES.get(settings.ETALAGE_COOKIE) if request is not None else None
    if visitor:
        call("unlink", {"visitor": visitor})


def order_sent(sender, order, user, **kwargs) -> None:
    if user is None or not user.is_authenticated:
        return  # a guest's order names no customer Etalage knows
    # A product ordered twice appears twice: Etalage counts the repeats as the quantity.
    products = [str(line.product_id) for line in order.lines.all() if line.product_id for _ in range(line.quantity)]
    if products:
        call(
            "events",
            {
                "type": "order",
                "customer": str(user.pk),
                "order": str(order.number),  # Oscar hands it over as a number
                "products": products,
                "value": str(order.total_incl_tax),
                "currency": order.currency,
            },
        )


def connect() -> None:
    user_logged_in.connect(linked_at_login, dispatch_uid="etalage_link.login")
    user_logged_out.connect(unlinked_at_logout, dispatch_uid="etalage_link.logout")
    order_placed.connect(order_sent, dispatch_uid="etalage_link.order")
