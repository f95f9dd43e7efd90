from django.apps import apps
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include(apps.get_app_config("oscar").urls[0])),
    # The example serves Oscar's CSS and scripts itself, so that it needs no web server in front.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
