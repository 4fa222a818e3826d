"""The case layer (DESIGN section 10): the work-injury one-thing on top of the exchange.

``definition`` (with ``conditions``) reads a case definition (stages, materials, issuers,
cross-checks, clocks, outcomes) from TOML; ``state`` holds one case; ``rules`` and ``clocks``
are the pure rules that move it by documents and by time; ``service`` applies accepted
messages to their case, sends material requests and notices as the hosted case service, and
watches deadlines; ``agreement`` is the acceptance check that subject and case_id agree;
``statistics`` gives the reform's figures.
"""

from gateway.cases.definition import CaseDefinition, load_definition
from gateway.cases.service import CaseService, CaseView
from gateway.cases.state import CaseState

__all__ = ["CaseDefinition", "CaseService", "CaseState", "CaseView", "load_definition"]
