"""Etalage: a consent-first personalization proxy for webshops.

The package root stays light (only the version): `etalage.app.create_app` assembles the proxy.
"""

__version__ = "0.2.0.dev0"
