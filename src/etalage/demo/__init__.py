"""The bundled demo webshop ("Pootjes & Co", a small pet shop) that Etalage can sit in front of."""
