"""The service-item catalogue (事项目录): items as the hall describes them, and their versions.

An item is stored once per code; when its content changes (its digest differs) it gets
the next version number and the old content stays in ``item_versions``. Storing the same
content again changes nothing, so a page read twice (a sync resumed after a crash) adds
no version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, func, insert, or_, select, update

from hub.store.case_records import (
    ItemFilter,
    ItemVersion,
    ItemView,
    Material,
    ServiceItem,
    SyncCounts,
)
from hub.store.case_tables import item_versions, items
from hub.store.database import Database
from hub.store.records import Page

__all__ = ["Items"]

_CHUNK = 500


class Items:
    """The item catalogue.

    Args:
        db: The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(
        self,
        found: Sequence[ServiceItem],
        *,
        source: str,
        at: dt.datetime,
        run_id: str | None = None,
    ) -> SyncCounts:
        """Store items read from a counterpart, in one transaction.

        A new code is added as version 1; changed content becomes the next version;
        the same content again changes nothing.

        Args:
            found: The items (a code given twice: the last one counts).
            source: Where they came from (the destination).
            at: When they were read.
            run_id: The job run that read them, kept with each new version.
        """
        latest: dict[str, ServiceItem] = {item.code: item for item in found}
        counts = SyncCounts()
        with self.db.write() as connection:
            known = _current(connection, list(latest))
            for code, item in latest.items():
                digest = item.digest()
                current = known.get(code)
                if current is not None and current[1] == digest:
                    counts += SyncCounts(unchanged=1)
                    continue
                version = 1 if current is None else current[0] + 1
                row = _item_row(item, digest, version, source, at)
                if current is None:
                    connection.execute(insert(items), [row])
                    counts += SyncCounts(added=1)
                else:
                    connection.execute(update(items).where(items.c.code == code).values(row))
                    counts += SyncCounts(changed=1)
                connection.execute(
                    insert(item_versions),
                    [
                        {
                            "code": code,
                            "version": version,
                            "document": item.document(),
                            "digest": digest,
                            "hall_version": item.hall_version,
                            "hall_updated_at": item.hall_updated_at,
                            "recorded_at": at,
                            "run_id": run_id,
                        }
                    ],
                )
        return counts

    def get(self, code: str) -> ItemView | None:
        """The item with this code, or ``None``."""
        with self.db.read() as connection:
            row = connection.execute(select(items).where(items.c.code == code)).first()
        return None if row is None else _view(row)

    def find(self, codes: Iterable[str]) -> dict[str, ItemView]:
        """The items of these codes that are in the catalogue, by code."""
        wanted = sorted({code for code in codes if code})
        found: dict[str, ItemView] = {}
        with self.db.read() as connection:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                for row in connection.execute(select(items).where(items.c.code.in_(chunk))):
                    found[row.code] = _view(row)
        return found

    def codes(self) -> list[str]:
        """Every code in the catalogue."""
        with self.db.read() as connection:
            return list(connection.execute(select(items.c.code)).scalars())

    def versions(self, code: str) -> list[ItemVersion]:
        """Every version of an item, newest first."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(item_versions)
                .where(item_versions.c.code == code)
                .order_by(item_versions.c.version.desc())
            ).all()
        return [
            ItemVersion(
                code=row.code,
                version=row.version,
                document=row.document,
                recorded_at=row.recorded_at,
                hall_version=row.hall_version,
                hall_updated_at=row.hall_updated_at,
                run_id=row.run_id,
            )
            for row in rows
        ]

    def search(
        self, where: ItemFilter | None = None, *, after: str | None = None, limit: int = 50
    ) -> Page:
        """Items by code, a page at a time; ``after`` is the last code of the previous page."""
        query = select(items).order_by(items.c.code).limit(limit + 1)
        for condition in _conditions(where or ItemFilter()):
            query = query.where(condition)
        if after:
            query = query.where(items.c.code > after)
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        found = [_view(row) for row in rows[:limit]]
        return Page(items=found, next=found[-1].item.code if len(rows) > limit else None)

    def count(self, where: ItemFilter | None = None) -> int:
        """How many items match."""
        query = select(func.count()).select_from(items)
        for condition in _conditions(where or ItemFilter()):
            query = query.where(condition)
        with self.db.read() as connection:
            return int(connection.execute(query).scalar_one())

    def version_count(self) -> int:
        """How many versions are stored, over every item."""
        with self.db.read() as connection:
            return int(
                connection.execute(select(func.count()).select_from(item_versions)).scalar_one()
            )

    def departments(self) -> list[tuple[str, str, int]]:
        """``(code, name, items)`` of every implementing body in the catalogue, by name."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(items.c.department_code, func.max(items.c.department_name), func.count())
                .group_by(items.c.department_code)
                .order_by(func.max(items.c.department_name))
            ).all()
        return [(row[0], row[1], int(row[2])) for row in rows]


def _current(connection: Any, codes: list[str]) -> dict[str, tuple[int, str]]:
    known: dict[str, tuple[int, str]] = {}
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        for row in connection.execute(
            select(items.c.code, items.c.version, items.c.digest).where(items.c.code.in_(chunk))
        ):
            known[row.code] = (row.version, row.digest)
    return known


def _item_row(
    item: ServiceItem, digest: str, version: int, source: str, at: dt.datetime
) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "department_code": item.department_code,
        "department_name": item.department_name,
        "item_type": item.item_type,
        "case_kind": item.case_kind,
        "legal_limit_days": item.legal_limit_days,
        "committed_limit_days": item.committed_limit_days,
        "materials": [{"name": m.name, "required": m.required} for m in item.materials],
        "online_depth": item.online_depth,
        "area_code": item.area_code,
        "status": item.status,
        "version": version,
        "digest": digest,
        "hall_version": item.hall_version,
        "hall_updated_at": item.hall_updated_at,
        "source": source,
        "synced_at": at,
    }


def _view(row: Row[Any]) -> ItemView:
    return ItemView(
        item=ServiceItem(
            code=row.code,
            name=row.name,
            department_code=row.department_code,
            department_name=row.department_name,
            item_type=row.item_type,
            case_kind=row.case_kind,
            committed_limit_days=row.committed_limit_days,
            legal_limit_days=row.legal_limit_days,
            materials=tuple(
                Material(m["name"], bool(m.get("required", True))) for m in row.materials or ()
            ),
            online_depth=row.online_depth,
            area_code=row.area_code,
            status=row.status,
            hall_version=row.hall_version,
            hall_updated_at=row.hall_updated_at,
        ),
        version=row.version,
        source=row.source,
        synced_at=row.synced_at,
    )


def _conditions(where: ItemFilter) -> list[Any]:
    found: list[Any] = []
    if where.department:
        found.append(items.c.department_code == where.department)
    if where.item_type:
        found.append(items.c.item_type == where.item_type)
    if where.case_kind:
        found.append(items.c.case_kind == where.case_kind)
    if where.online_depth:
        found.append(items.c.online_depth == where.online_depth)
    if where.status:
        found.append(items.c.status == where.status)
    if where.text:
        pattern = "%" + where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found.append(
            or_(
                items.c.name.like(pattern + "%", escape="\\"),
                items.c.code.like(pattern + "%", escape="\\"),
            )
        )
    return found
