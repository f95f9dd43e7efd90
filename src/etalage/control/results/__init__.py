"""The experiments' results page for marketers: /.etalage/admin/experiments."""
