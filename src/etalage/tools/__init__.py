"""Offline commands: explaining rules on a page, importing customers and product feeds."""
