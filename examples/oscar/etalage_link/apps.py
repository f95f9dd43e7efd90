from django.apps import AppConfig


class EtalageLinkConfig(AppConfig):
    name = "etalage_link"
    verbose_name = "Etalage"

    def ready(self) -> None:
        from etalage_link import receivers

        receivers.connect()
