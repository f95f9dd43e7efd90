"""Etalage: a consent-first personalization proxy for webshops."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app", "__version__"]
__version__ = "0.1.0"
