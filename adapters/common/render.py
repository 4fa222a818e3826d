"""Generic receiving shapes for families whose systems take the canonical fields as they are."""

from __future__ import annotations

from typing import Any

import orjson
from lxml import etree

from gateway.messages import CloudEvent


def envelope(event: CloudEvent) -> dict[str, Any]:
    """Who sent what, under which case; the receiving systems file documents by these."""
    return {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time.isoformat(),
    }


def to_json(event: CloudEvent) -> tuple[str, bytes]:
    """``{"envelope": {...}, "document": <canonical document>}``, pretty, UTF-8."""
    body = {"envelope": envelope(event), "document": event.data}
    return "json", orjson.dumps(body, option=orjson.OPT_INDENT_2)


def _xml(parent: Any, name: str, value: object) -> None:
    if isinstance(value, dict):
        node = etree.SubElement(parent, name)
        for k, v in value.items():
            _xml(node, k, v)
    elif isinstance(value, list):
        node = etree.SubElement(parent, name)
        for item in value:
            _xml(node, "item", item)
    else:
        node = etree.SubElement(parent, name)
        node.text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def to_xml(event: CloudEvent) -> tuple[str, bytes]:
    """``<Received id= source= type= subject= time=>`` + one element per canonical field
    (lists as repeated ``<item>``), UTF-8."""
    root = etree.Element("Received")
    for k, v in envelope(event).items():
        if v is not None:
            root.set(k, str(v))
    for k, v in event.data.items():
        _xml(root, k, v)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return "xml", xml
