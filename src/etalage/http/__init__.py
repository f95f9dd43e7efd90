"""Between the browser and the shop: forwarding, the upstream client, headers, cookies, encodings, shedding."""
