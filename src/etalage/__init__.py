"""Etalage: a consent-first personalization proxy for webshops."""

__all__ = ["__version__"]
__version__ = "0.1.0"
