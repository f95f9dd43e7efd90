"""Loading known customers from a CRM export into the profile store (`etalage import`).

Two formats, chosen by the file's extension (.csv; .jsonl or .ndjson) or by --format. Both are
UTF-8 (a byte-order mark, as Excel writes, is fine).

JSON Lines: one customer per line, every key but customer_id optional:

    {"customer_id": "C-1001", "segments": ["vip"], "newsletters": ["dogs"],
     "purchases": [{"order": "PC-1", "sku": "dog-kibble-5kg", "category": "dogs",
                    "date": "2026-03-01", "quantity": 2, "value": "31.97", "currency": "EUR"}]}

CSV: one row per order line, with a header row, as a shop or CRM exports its order lines (order
fields repeated on every line of the order, customer fields on every row of the customer):

    customer_id,segments,newsletters,order,sku,category,date,quantity,value,currency
    C-1001,vip|loyal,dogs,PC-1,dog-kibble-5kg,dogs,2026-03-01,2,31.97,EUR
    C-1001,vip|loyal,dogs,PC-1,dog-rope-toy,,2026-03-01,1,31.97,EUR
    C-1002,,cats|fish,,,,,,,

Only customer_id is a required column; a row with empty purchase columns (C-1002) carries the
customer's segments and newsletters alone. Lists inside a cell are separated by "|". Adjacent rows
with the same customer_id are one customer: sort the export by customer if it comes sorted by date
(a customer whose rows are apart is loaded once per run of adjacent rows, with the same result).
Comma-separated, or semicolon-separated as spreadsheets in many locales save it. Columns Etalage
does not know (an export's name or email) are ignored and named once. Why order lines: that is the
shape order exports have; no mini-syntax packed into a cell, so a date with a time, or an order
number with a colon, needs no escaping; and a spreadsheet can filter and sort it.

Every field:
  customer_id   the shop's customer id, as its login announces it: at most 128 characters, no spaces
  segments      segment names (CRM groups such as "vip")
  newsletters   categories of the rule set the customer gets newsletters about
  order         the order id; when missing, "import:<date>" (one order per customer and day), so
                importing the same file again finds the same order lines
  sku           the product id
  category      a category of the rule set (site.categories); may be left out when the sku is in
                the rule set's catalog, which then gives it
  date          ISO 8601: 2026-03-01, or 2026-03-01T14:30:00 with an optional offset (UTC when none)
  quantity      a whole number of at least 1; 1 when left out
  value         the order's total (not the line's), the same on every line of the order: 31.97, a
                decimal point and no thousands separator; may be left out. Offline and point-of-sale
                orders imported with it count in the profile's orders and revenue as web orders do
  currency      with value (and only with it): an ISO 4217 code such as EUR

A row with any problem is reported as FILE:LINE: reason and loads nothing at all (in CSV: nothing of
that customer's adjacent rows), while the good rows load. Each customer is written in one step
(one record_customer() call, atomic in both stores): no profile is ever half imported.
Importing the same file again changes nothing: purchases count once per (order, sku), segments and
newsletters are sets.

By default segments and newsletters are added to what the profile has. With `--replace segments`
(or `newsletters`, or `segments,newsletters`) the file's list replaces the customer's, so a customer the
CRM dropped from "vip" loses it: in JSON Lines when the line has that key (an empty list leaves none;
a line without the key leaves the field alone), in CSV for every customer when the file has that
column (an empty cell leaves none; the lists of a customer's adjacent rows are united first). The
replacement is one event in the customer's one write, so it is as atomic and idempotent as the rest.

The embedded store's file belongs to one process at a time: do not import into it while `etalage
serve` or `etalage demo` runs on the same file (that process would overwrite the import when it next
saves). Redis can be imported into at any time, while Etalage serves.
"""

__all__: list[str] = []
