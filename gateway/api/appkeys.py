"""The application's typed keys: one per service, each set once when the app starts
(``gateway.api.services``, ``gateway.api.workers``) and only read afterwards.

Handlers take what they need by key (``request.app[STORE]``) instead of reaching through a
catch-all object, so a reader sees at the top of a handler which services it uses.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.acceptance import CurrentContext
from gateway.administration import Administration, AdminTokens
from gateway.audit.watch import ChainWatch
from gateway.cases import CaseService
from gateway.clock import Clock
from gateway.configuration.model import TransportLimits
from gateway.delivery import Dispatcher, Notifier
from gateway.encryption.protection import RecordProtection
from gateway.intake import Intake
from gateway.metrics import Metrics
from gateway.options import Options
from gateway.storage.base import Store
from gateway.trust import TokenVerifier

OPTIONS = web.AppKey("options", Options)
#: the transport's bounds (``[http]`` in gateway.toml), fixed for the app's life
TRANSPORT = web.AppKey("transport", TransportLimits)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
METRICS = web.AppKey("metrics", Metrics)
#: this instance's incremental verification of the audit chain (``zjx_audit_chain_intact``)
CHAIN_WATCH = web.AppKey("chain_watch", ChainWatch)
STORE: web.AppKey[Store] = web.AppKey("store")
#: what the store does to records at rest ([crypto] at_rest; gateway.encryption)
PROTECTION = web.AppKey("protection", RecordProtection)
#: the acceptance context in force (configuration, routes, keys, schemas)
CURRENT = web.AppKey("current", CurrentContext)
NOTIFIER = web.AppKey("notifier", Notifier)
INTAKE = web.AppKey("intake", Intake)
DEPARTMENT_TOKENS = web.AppKey("department_tokens", TokenVerifier)
ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)
ADMINISTRATION = web.AppKey("administration", Administration)
#: the case service, or None when gateway.toml names no case definition
CASES: web.AppKey[CaseService | None] = web.AppKey("cases")
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
#: the background workers' tasks, by name (``gateway.api.workers``)
WORKERS: web.AppKey[dict[str, asyncio.Task[None]]] = web.AppKey("workers")
