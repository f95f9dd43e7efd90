"""Content-Encoding of HTML bodies: decode with a size cap, re-encode after a rewrite.

A body Etalage cannot decode, or one that would decode to more than the cap (a decompression
bomb or just a huge page), is not personalized: the caller passes the original bytes through.
"""

from __future__ import annotations

import zlib

import brotli  # ships no type hints: what it returns is annotated where it is used

__all__ = ["decode", "encode", "SUPPORTED"]

SUPPORTED = frozenset({"", "identity", "gzip", "x-gzip", "deflate", "br"})
# Fast levels: the page is compressed per request; the ratio barely differs from the defaults on HTML.
_GZIP_LEVEL = 4
_BROTLI_QUALITY = 4


def _inflate(data: bytes, wbits: int, limit: int) -> bytes | None:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or not decompressor.eof or decompressor.unused_data:
        return None
    return out


def _unbrotli(data: bytes, limit: int) -> bytes | None:
    decompressor = brotli.Decompressor()
    try:
        out: bytes = decompressor.process(data, output_buffer_limit=limit + 1)
    except brotli.error:
        return None
    if len(out) > limit or not decompressor.is_finished():
        return None
    return out


def decode(data: bytes, encoding: str, limit: int) -> bytes | None:
    """The decoded body, or None when it is not decodable within `limit` bytes."""
    if encoding in ("", "identity"):
        return data if len(data) <= limit else None
    if encoding in ("gzip", "x-gzip"):
        return _inflate(data, 16 + zlib.MAX_WBITS, limit)
    if encoding == "deflate":
        # "deflate" is zlib-wrapped by the standard, raw deflate by some servers.
        return _inflate(data, zlib.MAX_WBITS, limit) or _inflate(data, -zlib.MAX_WBITS, limit)
    if encoding == "br":
        return _unbrotli(data, limit)
    return None


def encode(data: bytes, encoding: str) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return compressor.compress(data) + compressor.flush()
    if encoding == "deflate":
        return zlib.compress(data, _GZIP_LEVEL)
    if encoding == "br":
        compressed: bytes = brotli.compress(data, quality=_BROTLI_QUALITY)
        return compressed
    return data
