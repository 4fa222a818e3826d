"""Document validation: JSON Schemas (data in ``schemas/``), custom formats, date-order checks.

The schemas are data so departments can read exactly what the gateway enforces; this package
only compiles and applies them. See ``schemas/README.md`` for the conventions.
"""

from gateway.validation.formats import (
    FORMATS,
    gb2260_fault,
    is_date,
    is_date_time,
    is_decimal_money,
    is_gb2260,
    is_icd10,
    is_phone_cn,
    is_resident_id,
    is_uscc,
    resident_id_check_char,
    resident_id_fault,
    uscc_check_char,
    uscc_fault,
)
from gateway.validation.registry import SchemaRegistry

__all__ = [
    "FORMATS",
    "SchemaRegistry",
    "gb2260_fault",
    "is_date",
    "is_date_time",
    "is_decimal_money",
    "is_gb2260",
    "is_icd10",
    "is_phone_cn",
    "is_resident_id",
    "is_uscc",
    "resident_id_check_char",
    "resident_id_fault",
    "uscc_check_char",
    "uscc_fault",
]
