"""A listing shaped like a stock Django Oscar 4.2 page (shared/notes/real-shops.md): a render time in
the head and, in every product card, an add-to-basket form with its own fresh CSRF token; 49 KB with
20 cards. Two calls with different seeds give bodies that differ in every card, as two views of the
real page do."""

from __future__ import annotations

import random
import string

__all__ = ["listing", "OSCAR_CATEGORIES"]

OSCAR_CATEGORIES = ("books", "clothing", "games")  # product k is of category (k - 1) % 3, as tests/rulesets/good/oscar says
_TOKEN = string.ascii_letters + string.digits
# The category menu in the header, which brings the page to the 49 KB of the real one.
_NAVIGATION = "".join(
    f'\n                <li><a class="dropdown-item" href="/catalogue/category/books/fiction/genre-{k}_{k}/">Genre {k}</a></li>'
    for k in range(190)
)


def listing(seed: int, cards: int = 20, created: str = "3rd Dec 2026 09:20", promotions: str = "Free shipping") -> bytes:
    """The page; `seed` chooses the tokens (a masked Django CSRF token: 64 letters and digits)."""
    rng = random.Random(seed)
    token = "".join(rng.choice(_TOKEN) for _ in range(64))
    items = "".join(_card(pk, "".join(rng.choice(_TOKEN) for _ in range(64))) for pk in range(1, cards + 1))
    page = f"""<!DOCTYPE html>
<html lang="en-gb" class="no-js">
    <head>
        <title>All products | Oscar - Sandbox</title>
        <meta http-equiv="content-type" content="text/html; charset=UTF-8" />
        <meta name="created" content="{created}" />
        <meta name="description" content="" />
        <meta name="viewport" content="width=device-width" />
        <meta name="robots" content="NOARCHIVE,NOCACHE" />
        <link rel="stylesheet" type="text/css" href="/static/oscar/css/styles.css" />
    </head>
    <body id="default" class="default">
        <header class="header container-fluid">
            <div class="page_inner"><div class="row">
                <div class="col-sm-7 h1"><a href="/">Oscar</a><small> Domain-driven e-Commerce for Django</small></div>
                <div class="basket-mini pull-right hidden-xs">Basket total: &pound;0.00</div>
            </div></div>
            <nav class="navbar navbar-expand-lg"><ul class="dropdown-menu" data-navigation="dropdown-menu">{_NAVIGATION}</ul></nav>
            <form method="get" action="/search/" class="navbar-form navbar-right">
                <input type="search" name="q" id="id_q" placeholder="Search" class="form-control">
                <input type="hidden" name="csrfmiddlewaretoken" value="{token}">
            </form>
        </header>
        <div class="container-fluid page"><div class="page_inner">
            <ul class="breadcrumb"><li><a href="/">Home</a></li><li class="active">All products</li></ul>
            <div id="promotions"><p>{promotions}</p></div>
            <div class="page-header action"><h1>All products</h1></div>
            <form method="get" class="form-horizontal">
                <div style="display:none"></div>
                <strong>{cards}</strong> results - showing <strong>1</strong> to <strong>{cards}</strong>.
            </form>
            <section>
                <div>
                    <ol class="row">{items}
                    </ol>
                </div>
            </section>
        </div></div>
        <footer class="footer container-fluid"></footer>
        <script src="/static/oscar/js/jquery/jquery.min.js" type="text/javascript"></script>
        <script type="text/javascript">$(function() {{ oscar.init(); }});</script>
    </body>
</html>
"""
    return page.encode()


def _card(pk: int, token: str) -> str:
    return f"""
            <li class="col-xs-6 col-sm-4 col-md-3 col-lg-3">
                <article class="product_pod">
                    <div class="image_container">
                        <a href="/catalogue/product-{pk}_{pk}/"><img src="/media/cache/{pk:02x}/a{pk}.jpg" alt="Product {pk}" class="thumbnail"></a>
                    </div>
                    <p class="star-rating Three"><i class="icon-star"></i><i class="icon-star"></i><i class="icon-star"></i></p>
                    <h3><a href="/catalogue/product-{pk}_{pk}/" title="Product {pk}">Product {pk}</a></h3>
                    <div class="product_price">
                        <p class="price_color">&pound;{9 + pk}.00</p>
                        <p class="instock availability"><i class="icon-ok"></i> In stock</p>
                        <form action="/basket/add/{pk}/" method="post">
                            <input type="hidden" name="csrfmiddlewaretoken" value="{token}">
                            <input type="hidden" name="quantity" value="1">
                            <button type="submit" class="btn btn-primary btn-block" data-loading-text="Adding...">Add to basket</button>
                        </form>
                    </div>
                </article>
            </li>"""
