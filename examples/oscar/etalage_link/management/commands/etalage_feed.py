"""Writes the shop's products as a Google Merchant Center feed (tab-separated) for `etalage import-products`.

    python manage.py etalage_feed --base-url https://shop.example > products.tsv

Each product's `product_type` is its category path ("Pets > Rodents"), whose last segment Etalage matches
with a category of the rules' [site] by its label; `link` is the product's page, which is how Etalage
recognizes product views and the product cards of listings.
"""

import csv
import sys

from django.core.management.base import BaseCommand
from oscar.core.loading import get_class, get_model

Product = get_model("catalogue", "Product")
Selector = get_class("partner.strategy", "Selector")

COLUMNS = ("id", "title", "link", "product_type", "price", "availability")


class Command(BaseCommand):
    help = "Write the catalogue as a tab-separated product feed on stdout"

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8080", help="the shop's public address, for the links")

    def handle(self, *args, base_url, **options):
        strategy = Selector().strategy()
        writer = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for product in Product.objects.browsable().order_by("pk").prefetch_related("categories"):
            category = product.get_categories().first()
            info = strategy.fetch_for_product(product)
            price = f"{info.price.incl_tax} {info.price.currency}" if info.price.exists else ""
            writer.writerow(
                (
                    product.pk,
                    product.get_title(),
                    base_url.rstrip("/") + product.get_absolute_url(),
                    category.full_name if category else "",
                    price,
                    "in_stock" if info.availability.is_available_to_buy else "out_of_stock",
                )
            )
