"""A stock Django Oscar shop, as Oscar's "Building your own shop" guide sets one up, plus our Etalage app.

State (the SQLite database, uploaded media) lives in PETSHOP_STATE, the folder `setup` made; PETSHOP_DB
can point at another copy of the database (the tests use a throwaway one). ETALAGE_API_URL and
ETALAGE_API_KEY say where Etalage's server-to-server API is and the key it takes (etalage_link).
"""

import os
from pathlib import Path

from oscar.defaults import *  # noqa: F403  (Oscar's settings, as its guide says)

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("PETSHOP_STATE", HERE.parent / ".state"))

SECRET_KEY = os.environ.get("PETSHOP_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("PETSHOP_DEBUG") == "1"
# Behind Etalage the browser's Host reaches the shop unchanged (Etalage forwards it, as a CDN does), so
# Django's CSRF check, which compares Origin with Host, passes for the address the browser uses.
ALLOWED_HOSTS = os.environ.get("PETSHOP_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    # Ours: the catalogue loader, and the recipe that tells Etalage of logins, logouts and orders.
    "petshop",
    "etalage_link",
]

SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
    # Sets the visitor cookie a login's link call handed back (etalage_link.receivers).
    "etalage_link.middleware.EtalageHandoffMiddleware",
]

AUTHENTICATION_BACKENDS = (
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
)

ROOT_URLCONF = "petshop.urls"
WSGI_APPLICATION = "petshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PETSHOP_DB", str(STATE / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Oscar lists its catalogue through a search engine; Whoosh is one in pure Python, its index a folder.
# (Haystack's simple engine cannot answer the filters Oscar's catalogue pages ask: they show nothing.)
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.whoosh_backend.WhooshEngine", "PATH": str(STATE / "whoosh")}}

STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = str(STATE / "media")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en-gb"
USE_TZ = True

OSCAR_SHOP_NAME = "Pet shop"
OSCAR_DEFAULT_CURRENCY = "EUR"
# Oscar sends a welcome email at registration; this shop has no mail server.
OSCAR_SEND_REGISTRATION_EMAIL = False

ETALAGE_API_URL = os.environ.get("ETALAGE_API_URL", "")
ETALAGE_API_KEY = os.environ.get("ETALAGE_API_KEY", "")
ETALAGE_COOKIE = os.environ.get("ETALAGE_COOKIE_NAME", "etalage_vid")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"etalage_link": {"handlers": ["console"], "level": "INFO"}},
}
