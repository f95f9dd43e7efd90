"""The shop's product catalogue from its product feed (`etalage import-products FEED`).

Shops keep a product feed for Google Merchant Center anyway; it says, for every product, its id,
the URL of its page and where it sits in the shop's taxonomy. Etalage reads it in the formats
Merchant Center takes:

- delimited text with a header row: tab-separated (.txt, .tsv), or comma-, pipe- or
  tilde-separated; the separator is the one that makes an `id` column of the header. Column
  names as Merchant Center spells them: `id`, `link`, `product_type` (or `product type`),
  `google_product_category`, `title`, `price`, `image_link`, `availability`; a `g:` prefix is
  fine, other columns are ignored.

      id	title	link	product_type	google_product_category
      dog-kibble-5kg	Adult Dog Kibble 5 kg	https://shop.example/p/dog-kibble-5kg	Dogs > Food	3530

- XML: RSS 2.0 (`<item>`) or Atom (`<entry>`) with the namespace
  xmlns:g="http://base.google.com/ns/1.0": `<g:id>`, `<g:link>` or `<link>` (Atom: `<link
  href=...>`), `<g:product_type>` (may repeat), `<g:google_product_category>`, `<g:title>` or
  `<title>`, `<g:price>`, `<g:image_link>`, `<g:availability>`. Parsed as a stream by defusedxml: entity declarations are refused (no "billion
  laughs"), external entities and DTDs are never fetched.

Either may be gzip-compressed. Text is UTF-8 unless a byte-order mark (or, for XML, the XML
declaration) says otherwise; `encoding` overrides that (a Latin-1 feed: "latin-1").

Categories. `product_type` is the shop's own path ("Pets > Dogs > Food"),
`google_product_category` Google's ("Animals & Pet Supplies > Pet Supplies > Dog Supplies") or
its number ("5"). Each product gets one of the site's category slugs: the product_type values
are tried first, then google_product_category; in each path the most specific segment first
(the last one), and at each segment a mapping key wins over a category's own name:

    [catalog_feed]
    categories = { "Dog Supplies" = "dogs", "Pet Supplies > Cat Supplies" = "cats", "5" = "dogs" }

A key is one segment, several consecutive segments ("Pet Supplies > Cat Supplies", which matches
wherever that run of segments ends the part of the path being tried), or a category number;
case, spacing and non-breaking spaces do not matter. Without a mapping key, a segment that is a
category's slug or label ("Dogs") means that category. `--map TEXT=SLUG` on the command line
adds keys and wins over the rules' keys.

The catalogue is written as a rule file (default: catalog-feed.toml in the rules folder): a
table `[catalog.ID]` per product with `category = "..."` and `path = "/p/..."`, the path of the
product's `link`, and what a `recommend` card shows when the feed says it (`title`, `price` as
written, `image` from an http(s) image_link, `available = false` for availability out_of_stock;
a bad image_link is reported and left out), so a running Etalage picks it up through its hot
reload, learns product views from product page URLs and finds cards' products by their links. A product also listed in
another rule file's [catalog] (with `lasts_days`, say) gets its keys from both: the rules win
where the feed's category or path disagrees (reported). Before the file replaces the old one
(atomically), the rules folder is loaded with it: a catalogue that would make the folder fail is
not written.

Reported on stdout as FEED:LINE: reason, and exit status 1: bad rows (no id, a repeated id,
wrong number of fields, a link that is no URL of a page), unmapped products and disagreements
with the rules. Notes on stderr (no effect on the status): products whose links share a page.
Exit status 2: nothing written (the feed unreadable or not a feed, no product imported, the
rules folder refused).
"""

__all__: list[str] = []
