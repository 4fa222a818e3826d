"""Open the attachment service beside the gateway's store (after its migrations ran)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gateway.attachments.blobs import Blobs, DatabaseBlobs, FilesystemBlobs
from gateway.attachments.database import Database, PostgresDatabase, SqliteDatabase
from gateway.attachments.service import Attachments
from gateway.attachments.settings import AttachmentSettings
from gateway.clock import Clock
from gateway.metrics import Metrics
from gateway.problems import ConfigError
from gateway.storage.factory import sqlite_path


async def open_database(database: str | Path) -> Database:
    """The attachment tables of the gateway's database (a path, sqlite:/// or postgresql://)."""
    if isinstance(database, Path) or "://" not in database:
        return SqliteDatabase(Path(database))
    if urlsplit(database).scheme.lower() == "sqlite":
        return SqliteDatabase(sqlite_path(database)[0])
    from gateway.storage.postgres import pool_options

    return await PostgresDatabase.connect(pool_options(database)[0])


async def open_attachments(
    database: str | Path,
    data_dir: Path,
    settings: AttachmentSettings,
    clock: Clock,
    metrics: Metrics,
) -> Attachments:
    """Filesystem bytes under ``data_dir/attachments`` unless the settings (or PostgreSQL,
    by default) ask for the database store."""
    db = await open_database(database)
    kind = settings.store or ("database" if isinstance(db, PostgresDatabase) else "filesystem")
    root = data_dir / "attachments"
    return Attachments(db, _blobs(kind, db, root, settings), settings, clock, metrics)


def _blobs(kind: str, db: Database, root: Path, settings: AttachmentSettings) -> Blobs:
    if kind == "filesystem":
        return FilesystemBlobs(root)
    if kind == "database":
        return DatabaseBlobs(db, root / "tmp")
    if not settings.s3_bucket:
        raise ConfigError("GATEWAY_ATTACHMENT_STORE=s3 needs GATEWAY_ATTACHMENT_S3_BUCKET")
    from gateway.attachments.s3 import S3Blobs  # boto3 only when asked for

    return S3Blobs(settings.s3_endpoint, settings.s3_bucket, settings.s3_prefix, root / "tmp")
