"""Loads the example's small pet-shop catalogue: categories Dogs, Cats and Rodents under Pets, products
with prices and stock, a shipping country and a customer to log in as. Idempotent: run it again and
nothing changes.

Products are made in the shop's own order, dogs and cats first: Oscar lists them in that order, so the
first catalogue page (20 products) holds dogs and cats only and the rodents start on page 2.
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model

Country = get_model("address", "Country")
Partner = get_model("partner", "Partner")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
ProductClass = get_model("catalogue", "ProductClass")
StockRecord = get_model("partner", "StockRecord")

CUSTOMER_EMAIL = "rodent.fan@example.com"
# An example shop on a loopback address: this password protects nothing.
CUSTOMER_PASSWORD = "petshop-example"

DOGS = [
    ("Adult dog kibble 5 kg", "24.90"),
    ("Puppy kibble 3 kg", "19.90"),
    ("Chew bones, 10 pack", "8.50"),
    ("Leather leash 120 cm", "21.00"),
    ("Orthopaedic dog bed M", "59.00"),
    ("Rope toy", "6.90"),
    ("Dog raincoat M", "27.50"),
    ("Dental sticks, 28 pack", "9.90"),
    ("Dog shampoo 250 ml", "7.40"),
    ("Dog bowl, steel", "11.90"),
]
CATS = [
    ("Clumping cat litter 10 l", "12.90"),
    ("Indoor cat kibble 2 kg", "16.50"),
    ("Wet food pouches, 12 pack", "9.60"),
    ("Scratching post 80 cm", "34.00"),
    ("Play tunnel", "14.90"),
    ("Catnip mice, 3 pack", "5.50"),
    ("Cat water fountain 2 l", "29.90"),
    ("Cat carrier", "32.00"),
    ("Cat brush", "8.90"),
    ("Feather wand", "4.90"),
]
RODENTS = [
    ("Meadow hay 1 kg", "6.50"),
    ("Hamster wheel 20 cm", "14.90"),
    ("Guinea pig pellets 2 kg", "9.90"),
    ("Wooden rodent house", "12.50"),
    ("Rabbit nibble sticks", "4.90"),
]
CATALOGUE = [("Pets > Dogs", DOGS), ("Pets > Cats", CATS), ("Pets > Rodents", RODENTS)]


class Command(BaseCommand):
    help = "Load the example pet-shop catalogue, stock and customer (idempotent)"

    @transaction.atomic
    def handle(self, *args, **options):
        Country.objects.update_or_create(
            iso_3166_1_a2="GB", defaults={"name": "United Kingdom", "printable_name": "United Kingdom", "is_shipping_country": True}
        )
        partner, _ = Partner.objects.get_or_create(name="Pet shop warehouse")
        product_class, _ = ProductClass.objects.get_or_create(
            name="Pet supplies", defaults={"requires_shipping": True, "track_stock": True}
        )
        made = 0
        for breadcrumbs, products in CATALOGUE:
            category = create_from_breadcrumbs(breadcrumbs)
            for title, price in products:
                product, created = Product.objects.get_or_create(title=title, defaults={"product_class": product_class})
                made += created
                ProductCategory.objects.get_or_create(product=product, category=category)
                StockRecord.objects.update_or_create(
                    product=product,
                    partner=partner,
                    defaults={"partner_sku": f"PS-{product.pk}", "price_currency": "EUR", "price": Decimal(price), "num_in_stock": 1000},
                )
        user_model = get_user_model()
        if not user_model.objects.filter(email=CUSTOMER_EMAIL).exists():
            user_model.objects.create_user(username="rodent-fan", email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD)
        self.stdout.write(f"pet shop: {Product.objects.count()} products ({made} new), customer {CUSTOMER_EMAIL}")
