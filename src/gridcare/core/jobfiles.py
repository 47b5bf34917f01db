"""Files a job reads or writes: an upload waiting for its import job (var/imports/), a finished export waiting
for its download (var/exports/).

Names are generated here (32 hex digits and a fixed suffix), never taken from the user, and every path is
checked against that shape, so no name can leave its folder. Files expire: `purge` deletes those older than
IMPORT_KEEP_DAYS / EXPORT_KEEP_HOURS (the `core.purge_job_files` job, run on a schedule)."""

import os
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

IMPORTS = "imports"
EXPORTS = "exports"
SUFFIXES = ("csv", "xlsx")
_NAME_RE = re.compile(r"[0-9a-f]{32}\.(?:csv|xlsx)")


class BadFileName(ValueError):
    """A name that this module did not make (or a folder it does not serve)."""


def keep(area: str) -> timedelta:
    """How long a file of `area` is kept."""
    if area == IMPORTS:
        return timedelta(days=int(settings.GRIDCARE.get("IMPORT_KEEP_DAYS", 7)))
    if area == EXPORTS:
        return timedelta(hours=int(settings.GRIDCARE.get("EXPORT_KEEP_HOURS", 48)))
    raise BadFileName(area)


def folder(area: str) -> Path:
    if area not in (IMPORTS, EXPORTS):
        raise BadFileName(area)
    return Path(settings.VAR_DIR) / area


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and bool(_NAME_RE.fullmatch(name))


def path(area: str, name: str) -> Path:
    """The file's path; BadFileName for a name this module did not generate."""
    if not is_valid_name(name):
        raise BadFileName(name)
    return folder(area) / name


def new_name(suffix: str) -> str:
    if suffix not in SUFFIXES:
        raise BadFileName(suffix)
    return f"{uuid.uuid4().hex}.{suffix}"


def save(area: str, data: bytes, suffix: str) -> str:
    """Write `data` to a new file of `area` (atomically: a reader never sees half a file); its name."""
    name = new_name(suffix)
    target = path(area, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return name


def open_new(area: str, suffix: str) -> tuple[str, Path, Path]:
    """(name, temporary path, final path) of a file a job writes itself; `commit` moves it into place."""
    name = new_name(suffix)
    target = path(area, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    return name, target.with_name(f".{name}.part"), target


def commit(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)


def delete(area: str, name: str) -> None:
    """Remove the file if it is there (a missing or foreign name is not an error)."""
    if is_valid_name(name):
        path(area, name).unlink(missing_ok=True)


def purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete every file (and left-over partial file) older than its area keeps them; counts per area."""
    now = now or timezone.now()
    out: dict[str, int] = {}
    for area in (IMPORTS, EXPORTS):
        cutoff = (now - keep(area)).timestamp()
        n = 0
        base = folder(area)
        if base.is_dir():
            for entry in base.iterdir():
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink(missing_ok=True)
                    n += 1
        out[area] = n
    return out
