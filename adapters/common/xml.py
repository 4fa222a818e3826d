"""Hardened XML for native exports (lxml): no DTD, no entities, no network, no huge trees.

A document that declares a DOCTYPE or an ENTITY is refused outright, before and after
parsing, so neither an entity bomb ("billion laughs") nor an external entity
(``file:///etc/passwd``) is ever expanded or fetched.

Encodings: UTF-8 (the XML default, XML 1.0 section 4.3.3) and the GB18030 family that county
systems export (GB2312, GBK, GB18030: each a subset of the next, so all are decoded as
GB18030, GB 18030-2022). The declaration in the prolog decides; any other declared encoding is
refused, and so is a file whose bytes do not decode under its declaration, naming the file,
the line and the declared encoding. Nothing is guessed: a police export declared
``ISO-8859-1`` but saved as UTF-8 is refused, not signed with a garbled name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from adapters.common.errors import AdapterError

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# the declaration at the very start (``\A``, searched: the prolog is a prefix by definition)
_PROLOG = re.compile(rb"""\A<\?xml[^>]*?encoding\s*=\s*["']([^"'>]*)["']""")
_ENCODING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{0,39}")
_ENCODING_ATTR = re.compile(r"""encoding\s*=\s*["'][^"']*["']""")
UTF8_BOM = b"\xef\xbb\xbf"
#: declared encoding (lower case) -> the codec its bytes are decoded with
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb2312": "gb18030", "gbk": "gb18030",
             "gb18030": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030"}  # fmt: skip
MAX_BYTES = 5 * 1024 * 1024

Element = Any  # lxml.etree._Element (lxml ships no type information here)


def hardened_parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(raw: bytes, file: str) -> Element:
    """The root element of a native XML export, or an ``AdapterError`` naming the file."""
    if len(raw) > MAX_BYTES:
        raise AdapterError.one(file, "file", "(document)", f"larger than {MAX_BYTES} bytes")
    raw = as_utf8(raw, file)
    found = _DECLARATION.search(raw)
    if found:
        at = raw.count(b"\n", 0, found.start()) + 1
        raise AdapterError.one(
            file, f"line {at}", "(prolog)", "DOCTYPE and ENTITY declarations are not accepted"
        )
    try:
        root = etree.fromstring(raw, parser=hardened_parser())
    except etree.XMLSyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "line ?"
        raise AdapterError.one(file, where, "(document)", "not well-formed XML") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise AdapterError.one(
            file, "line 1", "(prolog)", "DOCTYPE and ENTITY declarations are not accepted"
        )
    return root


def declared_encoding(raw: bytes) -> str:
    """The encoding the XML declaration names (``UTF-8`` when there is none)."""
    head = raw.removeprefix(UTF8_BOM)
    found = _PROLOG.search(head) if head.startswith(b"<?xml") else None
    if found is None:
        return "UTF-8"
    name = found.group(1).decode("ascii", "replace")
    return name if _ENCODING_NAME.fullmatch(name) else "(not an encoding name)"


def as_utf8(raw: bytes, file: str) -> bytes:
    """The document re-encoded as UTF-8 with its declaration saying so, or an AdapterError
    naming the file and the declared encoding (never a guess, never a replacement character).
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        raise AdapterError.one(file, "file", "(prolog)", "UTF-16/32 XML is not accepted")
    declared = declared_encoding(raw)
    codec = ENCODINGS.get(declared.lower())
    if codec is None:
        reason = f"declared encoding {declared} is not accepted (UTF-8, GB2312, GBK, GB18030)"
        raise AdapterError.one(file, "line 1", "(prolog)", reason)
    body = raw.removeprefix(UTF8_BOM) if codec == "utf-8" else raw
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        reason = f"bytes do not decode as the declared encoding {declared}"
        raise AdapterError.one(file, f"line {line}", "(document)", reason) from None
    if codec == "utf-8":
        return body
    end = text.index("?>")  # a GB18030 codec only comes from a declaration
    head = _ENCODING_ATTR.sub('encoding="UTF-8"', text[:end], count=1)
    return (head + text[end:]).encode("utf-8")


def local(el: Element) -> str:
    return str(etree.QName(el).localname)


def path_of(el: Element) -> str:
    """``/ClinicalDocument/component/section[2]``: local names, 1-based index among siblings
    of the same name when there are several."""
    parts = []
    node = el
    while node is not None:
        parent = node.getparent()
        name = local(node)
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and c.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


class XmlReader:
    """Reads fields of one element; every error names file, line, element path and field."""

    def __init__(self, file: str, root: Element, ns: str | None = None) -> None:
        self.file = file
        self.tree = root.getroottree()
        self.ns = ns

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def where(self, el: Element) -> str:
        return f"line {el.sourceline}, element {path_of(el)}"

    def fail(self, el: Element, field: str, reason: str) -> AdapterError:
        return AdapterError.one(self.file, self.where(el), field, reason)

    def child(self, el: Element, name: str, required: bool = True) -> Element | None:
        found = el.find(self.q(name))
        if found is None and required:
            raise self.fail(el, name, "is missing")
        return found

    def children(self, el: Element, name: str) -> list[Element]:
        return list(el.findall(self.q(name)))

    def text(self, el: Element, name: str, required: bool = True) -> str | None:
        found = self.child(el, name, required)
        if found is None:
            return None
        if len(found):
            raise self.fail(found, name, "must hold text, not elements")
        value = (found.text or "").strip()
        if not value:
            if required:
                raise self.fail(found, name, "is empty")
            return None
        return value

    def req(self, el: Element, name: str) -> str:
        value = self.text(el, name)
        assert value is not None
        return value

    def code(
        self, el: Element, name: str, mapping: Mapping[str, str], required: bool = True
    ) -> str | None:
        value = self.text(el, name, required)
        if value is None:
            return None
        if value not in mapping:
            node = self.child(el, name)
            raise self.fail(node, name, "not one of " + " ".join(sorted(mapping)))
        return mapping[value]

    def convert(
        self, el: Element, name: str, fn: Callable[[str], str], what: str, required: bool = True
    ) -> str | None:
        value = self.text(el, name, required)
        if value is None:
            return None
        try:
            return fn(value)
        except ValueError:
            raise self.fail(self.child(el, name), name, f"not {what}") from None

    def date(self, el: Element, name: str, required: bool = True) -> str | None:
        return self.convert(el, name, native_date, "a date (YYYYMMDD or YYYY-MM-DD)", required)

    def moment(self, el: Element, name: str, required: bool = True) -> str | None:
        return self.convert(
            el, name, native_moment, "a time (YYYY-MM-DD HH:MM:SS, Beijing time)", required
        )


def native_date(value: str) -> str:
    """``YYYYMMDD`` or ``YYYY-MM-DD`` -> ``YYYY-MM-DD`` (a real calendar day)."""
    fmt = "%Y%m%d" if re.fullmatch(r"[0-9]{8}", value) else "%Y-%m-%d"
    if not re.fullmatch(r"[0-9]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError(value)
    return datetime.strptime(value, fmt).date().isoformat()


def native_moment(value: str) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (Beijing time, as the department systems export it) or
    ``YYYYMMDDHHMMSS`` -> RFC 3339 with ``+08:00``; an RFC 3339 value with offset passes."""
    if re.fullmatch(r"[0-9]{14}", value):
        return datetime.strptime(value, "%Y%m%d%H%M%S").isoformat() + "+08:00"
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}", value):
        return datetime.strptime(value.replace("T", " "), "%Y-%m-%d %H:%M:%S").isoformat() + (
            "+08:00"
        )
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(value)
    return value
