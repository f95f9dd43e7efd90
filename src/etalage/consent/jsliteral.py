"""Reading the JavaScript object literal Cookiebot stores in its cookie (not JSON: unquoted keys, 'quotes')."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_js_object"]


class _LiteralError(ValueError):
    pass


# JavaScript's WhiteSpace and LineTerminator, where re's \s would also take \x1c-\x1f and NEL, and \d any
# script's digits: a value JavaScript cannot read is not the literal Cookiebot wrote.
_JS_SPACE = re.compile("[\t\x0b\x0c \xa0\ufeff\u1680\u2000-\u200a\u202f\u205f\u3000\n\r\u2028\u2029]*")
_JS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_JS_KEY_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_JS_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_JS_WORDS = {"true": True, "false": False, "null": None}
_JS_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}
# Escapes JavaScript reads as character codes (\x41, \u0041, \101): Cookiebot writes none, so none is decoded.
_JS_CODE_ESCAPES = "xu0123456789"


class _JsLiteral:
    """A reader for the JavaScript object literal Cookiebot stores: objects, arrays, quoted strings,
    numbers, true/false/null, unquoted keys. Duplicate keys are an error (the choice would be unclear)."""

    MAX_DEPTH = 8

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Any:
        value = self._value(0)
        self._space()
        if self.pos != len(self.text):
            raise _LiteralError(f"unexpected text at position {self.pos}")
        return value

    def _space(self) -> None:
        self.pos = _JS_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def _peek(self) -> str:
        self._space()
        if self.pos >= len(self.text):
            raise _LiteralError("the value ends too early")
        return self.text[self.pos]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise _LiteralError(f"expected {char!r} at position {self.pos}")
        self.pos += 1

    def _value(self, depth: int) -> Any:
        if depth > self.MAX_DEPTH:
            raise _LiteralError("nested too deeply")
        char = self._peek()
        if char == "{":
            return self._object(depth)
        if char == "[":
            return self._array(depth)
        if char in "'\"":
            return self._string()
        number = _JS_NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            return float(number.group()) if any(c in number.group() for c in ".eE") else int(number.group())
        word = _JS_IDENTIFIER.match(self.text, self.pos)
        if word and word.group() in _JS_WORDS:
            self.pos = word.end()
            return _JS_WORDS[word.group()]
        raise _LiteralError(f"unexpected {char!r} at position {self.pos}")

    def _object(self, depth: int) -> dict[str, Any]:
        self._expect("{")
        result: dict[str, Any] = {}
        while self._peek() != "}":
            char = self._peek()
            if char in "'\"":
                key = self._string()
            else:
                match = _JS_IDENTIFIER.match(self.text, self.pos) or _JS_KEY_NUMBER.match(self.text, self.pos)
                if not match:
                    raise _LiteralError(f"expected a key at position {self.pos}")
                key, self.pos = match.group(), match.end()
            self._expect(":")
            if key in result:
                raise _LiteralError(f"key {key!r} appears twice")
            result[key] = self._value(depth + 1)
            if self._peek() != ",":
                break
            self.pos += 1
        self._expect("}")
        return result

    def _array(self, depth: int) -> list[Any]:
        self._expect("[")
        result = []
        while self._peek() != "]":
            result.append(self._value(depth + 1))
            if self._peek() != ",":
                break
            self.pos += 1
        self._expect("]")
        return result

    def _string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise _LiteralError("a quoted text is not closed")
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(out)
            if char in "\n\r":
                raise _LiteralError(f"a line break in a quoted text at position {self.pos - 1}")
            if char == "\\":
                if self.pos >= len(self.text):
                    raise _LiteralError("a quoted text is not closed")
                escaped = self.text[self.pos]
                self.pos += 1
                octal = escaped == "0" and self.pos < len(self.text) and self.text[self.pos] in "0123456789"
                if escaped == "0" and not octal:
                    out.append("\0")
                elif escaped in _JS_CODE_ESCAPES or escaped in "\n\r\u2028\u2029":  # or a line continuation
                    raise _LiteralError(f"an escape Cookiebot does not write at position {self.pos - 2}")
                else:
                    out.append(_JS_ESCAPES.get(escaped, escaped))
            else:
                out.append(char)


def parse_js_object(text: str) -> dict[str, Any]:
    """Cookiebot's object literal as a dict; raises ValueError when it is not one."""
    value = _JsLiteral(text).parse()
    if not isinstance(value, dict):
        raise _LiteralError("not an object literal")
    return value
