"""Etalage's own endpoints under /.etalage/: health, metrics, admin, the API, the visitor's page, previews."""
