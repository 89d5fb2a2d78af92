"""The ops console in a real headless Chromium: find a dead letter, replay it, see it delivered.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven by
Playwright through ``executable_path``: no browser is ever downloaded. Without it this
test fails rather than skips.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Route, expect, sync_playwright

from hub.config import parse_config
from hub.core.clock import new_id, utcnow
from hub.core.envelope import Envelope
from tests.ops_support import PASSWORD, RunningConsole, running_console
from tests.support import Receiver, example, hub_config, webhook_destination

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium);"
        " this test never downloads a browser"
    )
    with sync_playwright() as running:
        yield running


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """A fresh Chromium with a new, empty profile."""
    profile = tempfile.mkdtemp(prefix="govhub-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=LAUNCH_ARGS,
        locale="zh-CN",
        viewport={"width": 1366, "height": 800},
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(tmp_path: Path, receiver: Receiver) -> Iterator[RunningConsole]:
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver, retry={"max_attempts": 1})],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
        ops={"refresh_seconds": 1},  # pages with pending work reload every second
    )
    with running_console(config, "operator") as running:
        yield running


def _offline(page: Page, allowed_host: str) -> list[str]:
    """Refuse (and list) every request that would leave the hub."""
    foreign: list[str] = []

    def route(request_route: Route) -> None:
        url = request_route.request.url
        if urlsplit(url).netloc == allowed_host or url.startswith(("data:", "about:")):
            request_route.continue_()
        else:
            foreign.append(url)
            request_route.abort()

    page.route("**/*", route)
    return foreign


def test_operator_finds_a_dead_letter_by_case_number_replays_it_and_sees_it_delivered(
    console: RunningConsole, receiver: Receiver, browser: BrowserContext
) -> None:
    key = console.client("dept")
    for n in range(3):  # others, delivered
        payload = example("case.submitted", case_no=f"WH-2026-00700{n}")
        console.wait_delivered(
            console.post(key, {"type": "case.submitted", "payload": payload}).json()["id"]
        )
    receiver.respond_with(400)  # the department refuses this one once
    payload = example("case.submitted", case_no="WH-2026-007777")
    message_id = console.post(key, {"type": "case.submitted", "payload": payload}).json()["id"]
    assert console.wait_delivered(message_id)["status"] == "dead"

    page = browser.new_page()
    foreign = _offline(page, urlsplit(console.url).netloc)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Signed out: the console sends us to sign in, then back.
    page.goto(console.url + "/ops/dead-letters")
    expect(page).to_have_url(f"{console.url}/ops/login?next=/ops/dead-letters")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(console.url + "/ops/dead-letters")
    expect(page.get_by_role("heading", level=1)).to_contain_text("死信")

    # Find it by case number on the Messages page.
    page.get_by_role("link", name="消息", exact=True).click()
    page.get_by_label("办件编号").fill("WH-2026-007777")
    page.get_by_role("button", name="查询").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("死信")

    # Its trace: the refused attempt, with the error and timing.
    rows.first.get_by_role("link", name=message_id).click()
    expect(page).to_have_url(f"{console.url}/ops/messages/{message_id}")
    delivery = page.locator("section.delivery")
    expect(delivery.locator("h3 .status")).to_have_text("死信")
    expect(delivery.locator("table.attempts")).to_contain_text("civil_affairs answered HTTP 400")
    expect(page.locator("pre.payload")).to_contain_text("110105********002X")

    # Replay it, and watch the page (it refreshes itself while work is pending).
    delivery.get_by_role("button", name="重放").click()
    expect(page.locator(".note.ok")).to_contain_text("已重放 1 条死信")
    expect(delivery.locator("h3 .status")).to_have_text("已送达", timeout=20_000)
    expect(page.locator("h1 .status")).to_have_text("已送达")
    expect(page.get_by_text("重放了一条死信")).to_be_visible()

    # Switch to English and back.
    page.locator("#lang-en").click()
    expect(page).to_have_url(f"{console.url}/ops/messages/{message_id}")
    expect(page.locator("h1 .status")).to_have_text("delivered")
    expect(page.get_by_role("link", name="Dead letters")).to_be_visible()
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Deliveries out")).to_be_visible()
    page.locator("#lang-zh").click()
    expect(page.get_by_role("heading", name="投递出站")).to_be_visible()

    assert console.message(message_id)["deliveries"][0]["attempts"] == 1
    assert len(receiver.accepted()) == 4
    assert foreign == []
    assert problems == []


ROOT = Path(__file__).resolve().parents[2]
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture
def default_console(tmp_path: Path, receiver: Receiver) -> Iterator[RunningConsole]:
    """The shipped govhub.toml (every counterpart, every job), civil affairs at a receiver
    of this test; nothing is started that would reach the other counterparts."""
    raw = tomllib.loads((ROOT / "govhub.toml").read_text(encoding="utf-8"))
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'govhub.db'}"}
    raw["sandbox"] = {"enabled": False}
    raw["server"] = {"host": "127.0.0.1", "port": 0}
    [civil] = [d for d in raw["destinations"] if d["name"] == "civil_affairs"]
    civil.update(url=receiver.url, secret=receiver.secret)
    with running_console(parse_config(raw, ROOT / "govhub.toml"), "operator") as running:
        yield running


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/ops/login")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_in_chinese_jobs_channels_and_counterparts_are_words_and_messages_fit_1366_px(
    default_console: RunningConsole, receiver: Receiver, browser: BrowserContext
) -> None:
    hub = default_console.hub
    key = default_console.client("dept")
    long_case = "1.2.156.3005.2.11100000000013338W032.11371000004336447W.37100226"
    posted = default_console.post(
        key, {"type": "case.submitted", "payload": example("case.submitted", case_no=long_case)}
    )
    default_console.wait_delivered(posted.json()["id"])
    for channel in ("job", "notify", "soap", "poll"):  # as jobs and notifications store them
        card = example("citizen_card.status_changed")
        hub.store.messages.accept(
            Envelope(
                id=new_id(),
                type="citizen_card.status_changed",
                source=f"test-{channel}",
                payload=card,
                created_at=utcnow(),
                correlation_id=f"{card['card_no']}-{'X' * 100}",
            ),
            channel=channel,
            targets=[],
        )

    page = browser.new_page()
    foreign = _offline(page, urlsplit(default_console.url).netloc)
    _sign_in(page, default_console.url)

    # Messages: every channel in words, and the table fits a 1366 px screen.
    page.goto(default_console.url + "/ops/messages")
    rows = page.locator("table.messages tbody tr")
    expect(rows).to_have_count(5)
    channels = rows.locator("td:nth-child(6)").all_inner_texts()
    assert not {"rest", "soap", "job", "notify", "poll"} & set(channels), channels
    assert all(
        not LATIN_WORD.search(text.replace("REST", "").replace("SOAP", "")) for text in channels
    ), channels
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    status = page.locator("table.messages thead th").last.bounding_box()
    assert status is not None
    assert status["x"] + status["width"] <= 1366
    table = page.locator("table.messages").bounding_box()
    assert table is not None
    assert table["x"] + table["width"] <= 1366

    # Jobs: what each does, its schedule, timezone and state in Chinese; only ids stay.
    page.goto(default_console.url + "/ops/jobs")
    job_rows = page.locator("table tbody tr")
    assert job_rows.count() == len(hub.jobs.jobs) == 9  # every installed job, one row each
    for index in range(job_rows.count()):
        row = job_rows.nth(index)
        description = row.locator("td").first.locator("small").inner_text()
        others = row.locator("td").all_inner_texts()[1:-1]  # not the id, not the buttons
        assert description, row.inner_text()
        assert not LATIN_WORD.search(description), description
        for text in others:
            assert not LATIN_WORD.search(text.replace("cron", "")), text
    assert "every" not in page.content()
    assert "Asia/Shanghai" not in page.locator("table").inner_text()

    # Counterparts: their titles, and a chart each.
    page.goto(default_console.url + "/ops/counterparts")
    for destination in hub.config.destinations:
        heading = page.locator(f"section#{destination.name} h2")
        assert destination.title, f"govhub.toml gives {destination.name} no title"
        expect(heading).to_contain_text(destination.title)
    assert page.locator("figure.traffic").count() == len(hub.config.destinations)

    assert foreign == []
