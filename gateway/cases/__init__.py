"""The case layer (DESIGN section 10): the work-injury one-thing on top of the exchange.

``definition`` reads a case definition (stages, materials, issuers, conditions) from TOML;
``state`` holds one case and the pure rules that move it; ``service`` applies accepted
messages to their case, sends material requests and notices as the hosted case service,
and watches deadlines.
"""

from gateway.cases.definition import CaseDefinition, load_definition
from gateway.cases.service import CaseService, CaseView
from gateway.cases.state import CaseState

__all__ = ["CaseDefinition", "CaseService", "CaseState", "CaseView", "load_definition"]
