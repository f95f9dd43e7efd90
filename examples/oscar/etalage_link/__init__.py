"""Tells Etalage, from the shop's backend, who logged in, who logged out and what they ordered.

The whole recipe for a Django shop: three signal receivers (receivers.py) calling Etalage's
server-to-server API (client.py), and a middleware that sets the visitor cookie a login's link call
hands back (middleware.py). Settings: ETALAGE_API_URL, ETALAGE_API_KEY, ETALAGE_COOKIE (the visitor
cookie's name, etalage_vid unless Etalage was told otherwise). `manage.py etalage_feed` writes the
product feed `etalage import-products` reads.
"""
