"""Administration in one place: the overlay of changes (``overlay``), the administrator
tokens (``tokens``) and the service that applies changes to a running gateway (``service``).
The HTTP handlers (``gateway.api.admin``) only read requests and write responses."""

from gateway.administration.overlay import AdminState
from gateway.administration.service import (
    Administration,
    SharedAdminStore,
    load_state,
    shared_store,
)
from gateway.administration.tokens import (
    ADMIN_ONLY,
    AUDIT_ROLES,
    READ_ROLES,
    ROLES,
    WRITE_ROLES,
    AdminToken,
    AdminTokens,
    bootstrap,
)

__all__ = [
    "ADMIN_ONLY",
    "AUDIT_ROLES",
    "READ_ROLES",
    "ROLES",
    "WRITE_ROLES",
    "AdminState",
    "AdminToken",
    "AdminTokens",
    "Administration",
    "SharedAdminStore",
    "bootstrap",
    "load_state",
    "shared_store",
]
