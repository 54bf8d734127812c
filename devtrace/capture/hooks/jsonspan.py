"""Where each value of a JSON document lies in its text, so that DevTrace can add or remove
its own hook entries in an agent's settings file and leave every other byte as it was."""

import json
from typing import Any

_WS = " \t\r\n"
_decoder = json.JSONDecoder()


class Node:
    """A JSON value and its span text[start:end]; `member_start` is where its member begins
    (the key's quote, in an object). `items`: for an object, (key, Node) pairs; for an
    array, (None, Node) pairs; None for other values."""

    __slots__ = ("value", "start", "end", "items", "member_start")

    def __init__(self, value, start: int, end: int, items: list | None = None):
        self.value, self.start, self.end, self.items = value, start, end, items
        self.member_start = start

    def get(self, key: str):
        for name, node in self.items or ():
            if name == key:
                return node
        return None


def parse(text: str, skip: int = 0) -> Node:
    """The document's tree of spans, from text[skip:] (past a byte-order mark); ValueError if it
    is not valid JSON. Spans are positions in `text`."""
    json.loads(text[skip:])  # the real parser decides validity (and raises a precise error)
    node, end = _value(text, _skip(text, skip))
    if _skip(text, end) != len(text):
        raise ValueError("extra data after the JSON value")
    return node


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _value(text: str, i: int) -> tuple[Node, int]:
    if text[i] == "{":
        return _container(text, i, "}", keyed=True)
    if text[i] == "[":
        return _container(text, i, "]", keyed=False)
    value, end = _decoder.raw_decode(text, i)
    return Node(value, i, end), end


def _container(text: str, start: int, close: str, keyed: bool) -> tuple[Node, int]:
    items: list[tuple[Any, Node]] = []
    values: Any = {} if keyed else []  # a dict or a list, as the JSON text says
    i = _skip(text, start + 1)
    while text[i] != close:
        key, member_start = None, i
        if keyed:
            key, i = _decoder.raw_decode(text, i)
            i = _skip(text, i) + 1  # the colon
            i = _skip(text, i)
        node, i = _value(text, i)
        node.member_start = member_start
        items.append((key, node))
        if keyed:
            values[key] = node.value
        else:
            values.append(node.value)
        i = _skip(text, i)
        if text[i] == ",":
            i = _skip(text, i + 1)
    return Node(values, start, i + 1, items), i + 1

