"""``hall.sync_items``: the service-item catalogue (事项目录) from the provincial hall, hourly.

The hall lists its items in the order they last changed, a page after a cursor. Each page
is stored in one transaction (a new item as version 1, a changed one as its next version,
the same content again as nothing at all), then the cursor moves past it. A run killed
between the two reads that page again and stores nothing twice; a run that ends leaves
the cursor at the end of the catalogue, so the next one reads only what changed since.
An item the hall describes wrongly is counted failed and logged by its code, and the
rest of its page is stored.
"""

from __future__ import annotations

from hub.scheduler import JobContext, hours, job, minutes
from hub.store import ServiceItem, SyncCounts

__all__ = ["sync_items"]


@job(
    "hall.sync_items",
    every=hours(1),
    adapter="provincial_hall",
    timeout=minutes(30),
    settings={
        "page_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
            "default": 200,
            "description": "Items asked of the hall per page.",
        },
        "max_pages": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100000,
            "default": 1000,
            "description": "Pages read in one run at most (the next run goes on).",
        },
    },
)
def sync_items(ctx: JobContext) -> None:
    """The hall's service items and their changes, stored as versions, page by page."""
    hall = ctx.adapter
    total = SyncCounts()
    for _ in range(ctx.settings["max_pages"]):
        ctx.check()
        page = hall.items_after(ctx.cursor.get(), ctx.settings["page_size"])
        ctx.count_read(len(page.items))
        found: list[ServiceItem] = []
        for document in page.items:
            try:
                found.append(ServiceItem.from_document(document))
            except ValueError as error:
                ctx.count_failed(
                    reason=f"item {str(document.get('code'))[:64]!r} left out: {error}"
                )
        if found:
            total += ctx.store.items.store(
                found, source=hall.destination, at=ctx.now(), run_id=ctx.run_id
            )
        if page.cursor is not None and page.cursor != ctx.cursor.get():
            ctx.cursor.advance(page.cursor)
        if not page.more:
            break
    ctx.log.info(
        "catalogue: %d new, %d changed, %d unchanged", total.added, total.changed, total.unchanged
    )
