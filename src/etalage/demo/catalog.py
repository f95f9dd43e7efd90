"""The demo shop's catalogue: five categories of eight products each, all immutable.

Prices are whole euro cents. Everything here is a constant (tuples, frozen dataclasses and
read-only mappings), so the shop can share it between app instances without shared mutable state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "Category",
    "Product",
    "CATEGORIES",
    "CATEGORIES_BY_SLUG",
    "PRODUCTS",
    "PRODUCTS_BY_ID",
    "POPULAR_PRODUCT_IDS",
    "products_in",
    "popular_products",
    "format_price",
]


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    label: str
    emoji: str
    colour: str  # background colour of the image tile
    blurb: str


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    category: str  # a Category slug
    name: str
    price_cents: int
    emoji: str
    description: str


CATEGORIES: tuple[Category, ...] = (
    Category("dogs", "Dogs", "\N{DOG}", "#f6d9b5", "Food, chews, leashes and beds for dogs of every size."),
    Category("cats", "Cats", "\N{CAT}", "#e7d8f3", "Kibble, litter, scratching posts and toys for cats."),
    Category("rodents", "Rodents", "\N{HAMSTER FACE}", "#f1e5c3", "Hay, pellets, bedding and cages for rabbits, guinea pigs and hamsters."),
    Category("birds", "Birds", "\N{BIRD}", "#d5efd7", "Seed mixes, cages and treats for pet birds and the birds in your garden."),
    Category("fish", "Fish", "\N{TROPICAL FISH}", "#cde5f6", "Aquariums, filters, food and water care for aquarium and pond fish."),
)

PRODUCTS: tuple[Product, ...] = (
    # Dogs
    Product(
        "dog-kibble-5kg",
        "dogs",
        "Adult Dog Kibble Lamb & Rice 5 kg",
        2495,
        "\N{BONE}",
        "Complete dry food for adult dogs, with lamb as the first ingredient and easily digestible rice.",
    ),
    Product(
        "dog-puppy-kibble-3kg",
        "dogs",
        "Puppy Kibble Chicken 3 kg",
        1949,
        "\N{DOG FACE}",
        "Small kibbles with extra calcium and DHA for puppies up to 12 months.",
    ),
    Product(
        "dog-chew-bones-10",
        "dogs",
        "Natural Beef Chew Bones (10 pcs)",
        899,
        "\N{BONE}",
        "Air-dried beef chews without additives; keeps teeth clean and dogs busy.",
    ),
    Product(
        "dog-leash-leather-120",
        "dogs",
        "Leather Leash 120 cm, Cognac",
        2995,
        "\N{DOG}",
        "Soft full-grain leather leash with a brass snap hook, made in Portugal.",
    ),
    Product(
        "dog-bed-orthopaedic-m",
        "dogs",
        "Orthopaedic Dog Bed, Medium",
        5900,
        "\N{SLEEPING SYMBOL}",
        "Memory-foam bed with a removable, washable cover (80 \N{MULTIPLICATION SIGN} 60 cm).",
    ),
    Product(
        "dog-rope-toy",
        "dogs",
        "Cotton Rope Tug Toy",
        649,
        "\N{TENNIS RACQUET AND BALL}",
        "Braided cotton rope for tugging and fetching; machine washable at 30 \N{DEGREE SIGN}C.",
    ),
    Product(
        "dog-raincoat-m",
        "dogs",
        "Reflective Raincoat, Size M",
        2250,
        "\N{UMBRELLA WITH RAIN DROPS}",
        "Lightweight waterproof coat with reflective strips for dark autumn walks.",
    ),
    Product(
        "dog-dental-sticks-28",
        "dogs",
        "Dental Sticks (28 pcs)",
        1199,
        "\N{TOOTH}",
        "Daily dental chews that help reduce tartar; four weeks' supply for medium dogs.",
    ),
    # Cats
    Product(
        "cat-litter-clumping-10l",
        "cats",
        "Clumping Clay Litter 10 L",
        999,
        "\N{CAT FACE}",
        "Fine, low-dust bentonite litter that forms firm clumps and locks in odours.",
    ),
    Product(
        "cat-kibble-indoor-2kg",
        "cats",
        "Indoor Cat Kibble Salmon 2 kg",
        1695,
        "\N{FISH}",
        "Dry food for indoor cats with salmon, fibre for hairball control and fewer calories.",
    ),
    Product(
        "cat-wet-food-pouches-12",
        "cats",
        "Wet Food Pouches in Gravy (12 \N{MULTIPLICATION SIGN} 85 g)",
        749,
        "\N{CAT FACE}",
        "Tender chunks in gravy: chicken, beef, salmon & turkey, three of each.",
    ),
    Product(
        "cat-scratching-post-80",
        "cats",
        "Sisal Scratching Post 80 cm",
        3495,
        "\N{CAT}",
        "Sturdy post wrapped in natural sisal, with a plush platform on top.",
    ),
    Product(
        "cat-play-tunnel", "cats", "Crinkle Play Tunnel", 1299, "\N{CAT}", "Foldable tunnel with a crinkly lining and a dangling pompom."
    ),
    Product("cat-catnip-mice-3", "cats", "Catnip Mice (set of 3)", 499, "\N{MOUSE}", "Felt mice filled with organic Dutch catnip."),
    Product(
        "cat-fountain-2l",
        "cats",
        "Drinking Fountain 2 L",
        3995,
        "\N{DROPLET}",
        "Quiet fountain with a carbon filter; running water encourages cats to drink more.",
    ),
    Product(
        "cat-carrier-top-door",
        "cats",
        "Travel Carrier with Top Door",
        4450,
        "\N{AUTOMOBILE}",
        "Airline-style carrier with a top and a front door, for visits to the vet.",
    ),
    # Rodents
    Product(
        "rodent-hay-timothy-1kg",
        "rodents",
        "Timothy Hay 1 kg",
        699,
        "\N{EAR OF RICE}",
        "Long-stemmed, dust-extracted second-cut hay for rabbits and guinea pigs.",
    ),
    Product(
        "rodent-rabbit-pellets-2kg",
        "rodents",
        "Rabbit Pellets with Dandelion 2 kg",
        949,
        "\N{RABBIT FACE}",
        "Grain-free pellets with herbs and dandelion; prevents selective feeding.",
    ),
    Product(
        "rodent-guinea-pig-food-1500g",
        "rodents",
        "Guinea Pig Food with Vitamin C 1.5 kg",
        879,
        "\N{CARROT}",
        "Complete food with stabilised vitamin C, which guinea pigs cannot make themselves.",
    ),
    Product(
        "rodent-hamster-wheel-20",
        "rodents",
        "Silent Hamster Wheel 20 cm",
        1495,
        "\N{HAMSTER FACE}",
        "Ball-bearing wheel that runs almost without a sound, with a closed running surface.",
    ),
    Product(
        "rodent-bedding-hemp-20l",
        "rodents",
        "Hemp Bedding 20 L",
        1149,
        "\N{HERB}",
        "Absorbent, dust-free bedding of Dutch-grown hemp; fully compostable.",
    ),
    Product(
        "rodent-willow-hideout",
        "rodents",
        "Willow Hideout House",
        995,
        "\N{HOUSE BUILDING}",
        "Hand-woven willow house to hide in and gnaw on.",
    ),
    Product(
        "rodent-cage-80",
        "rodents",
        "Rodent Cage 80 cm with Accessories",
        7900,
        "\N{RABBIT}",
        "Roomy cage with a deep base, water bottle, food bowl and a hay rack.",
    ),
    Product(
        "rodent-gnaw-sticks",
        "rodents",
        "Apple-wood Gnawing Sticks",
        399,
        "\N{RED APPLE}",
        "Untreated apple-tree branches from Betuwe orchards; keeps teeth short.",
    ),
    # Birds
    Product(
        "bird-seed-budgie-1kg",
        "birds",
        "Budgie Seed Mix 1 kg",
        449,
        "\N{BIRD}",
        "A balanced mix of millets and canary seed, cleaned and dust-free.",
    ),
    Product(
        "bird-seed-canary-1kg",
        "birds",
        "Canary Seed Mix 1 kg",
        479,
        "\N{BABY CHICK}",
        "Rich seed mix with rapeseed and niger seed for singing canaries.",
    ),
    Product(
        "bird-fat-balls-30",
        "birds",
        "Fat Balls for Wild Birds (30 pcs)",
        799,
        "\N{BIRD}",
        "Energy-rich fat balls with seeds and insects, without nets.",
    ),
    Product(
        "bird-cage-budgie-60",
        "birds",
        "Budgie Cage with Perches 60 cm",
        6495,
        "\N{BIRD}",
        "Cage with natural-wood perches, two feeders and a pull-out tray.",
    ),
    Product(
        "bird-cuttlebone-2",
        "birds",
        "Cuttlebone (2 pcs)",
        299,
        "\N{SPIRAL SHELL}",
        "Natural source of calcium; comes with clips for the cage bars.",
    ),
    Product(
        "bird-nest-box-tits",
        "birds",
        "Wooden Nest Box for Tits",
        1750,
        "\N{HOUSE WITH GARDEN}",
        "FSC larch nest box with a 28 mm entrance hole, ready to hang.",
    ),
    Product(
        "bird-millet-sprays-500g",
        "birds",
        "Millet Sprays 500 g",
        549,
        "\N{EAR OF MAIZE}",
        "Golden millet sprays, a favourite treat for budgies & finches.",
    ),
    Product(
        "bird-bath-hanging", "birds", "Hanging Bird Bath", 1295, "\N{DROPLET}", "Glazed ceramic bath with a chain for trees or pergolas."
    ),
    # Fish
    Product(
        "fish-flakes-250ml",
        "fish",
        "Tropical Flake Food 250 ml",
        699,
        "\N{TROPICAL FISH}",
        "Staple flake food for all tropical aquarium fish.",
    ),
    Product("fish-pond-sticks-5l", "fish", "Pond Sticks 5 L", 1895, "\N{FISH}", "Floating sticks for koi and goldfish in the garden pond."),
    Product(
        "fish-aquarium-60l",
        "fish",
        "Aquarium Starter Set 60 L",
        11900,
        "\N{WATER WAVE}",
        "Glass aquarium with LED lighting, filter and heater: everything to get started.",
    ),
    Product(
        "fish-water-conditioner-250ml",
        "fish",
        "Water Conditioner 250 ml",
        849,
        "\N{DROPLET}",
        "Makes tap water safe within seconds by binding chlorine and heavy metals.",
    ),
    Product(
        "fish-internal-filter-400",
        "fish",
        "Internal Filter 400 L/h",
        2795,
        "\N{CYCLONE}",
        "Quiet internal filter for aquariums of 40 to 100 litres.",
    ),
    Product(
        "fish-heater-100w",
        "fish",
        "Aquarium Heater 100 W",
        2150,
        "\N{HIGH VOLTAGE SIGN}",
        "Adjustable heater from 18 to 32 \N{DEGREE SIGN}C with automatic switch-off.",
    ),
    Product(
        "fish-gravel-natural-5kg",
        "fish",
        "Natural Gravel 5 kg",
        799,
        "\N{ROCK}",
        "Rounded river gravel, 2-4 mm, pre-washed and pH-neutral.",
    ),
    Product(
        "fish-net-medium", "fish", "Fish Net, Medium", 349, "\N{FISHING POLE AND FISH}", "Fine-mesh net (12 cm) that is gentle on fins."
    ),
)

CATEGORIES_BY_SLUG: Mapping[str, Category] = MappingProxyType({c.slug: c for c in CATEGORIES})
PRODUCTS_BY_ID: Mapping[str, Product] = MappingProxyType({p.id: p for p in PRODUCTS})

# The home page's "Popular products": two per category, interleaved so the categories mix.
POPULAR_PRODUCT_IDS: tuple[str, ...] = (
    "dog-kibble-5kg",
    "cat-litter-clumping-10l",
    "rodent-hay-timothy-1kg",
    "bird-seed-budgie-1kg",
    "fish-flakes-250ml",
    "dog-chew-bones-10",
    "cat-scratching-post-80",
    "rodent-hamster-wheel-20",
    "bird-fat-balls-30",
    "fish-water-conditioner-250ml",
)


def products_in(category: str) -> tuple[Product, ...]:
    """The category's products in catalogue order (empty for an unknown slug)."""
    return tuple(p for p in PRODUCTS if p.category == category)


def popular_products() -> tuple[Product, ...]:
    return tuple(PRODUCTS_BY_ID[pid] for pid in POPULAR_PRODUCT_IDS)


def format_price(cents: int) -> str:
    """Dutch notation without the currency sign: 2495 -> "24,95", 11900 -> "119,00"."""
    euros, rest = divmod(cents, 100)
    return f"{euros},{rest:02d}"
