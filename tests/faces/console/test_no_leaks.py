"""No console page shows a whole resident ID or a secret: every page is rendered and scanned."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from faces.console.views.messages import PAGE as PAGE_SIZE
from tests.ops_support import (
    OTHER_RESIDENT_ID,
    PASSWORD,
    RESIDENT_ID,
    FakeJobs,
    OpsClient,
    RunningConsole,
    running_console,
    signed_in,
)
from tests.support import Receiver, example, hub_config

WEBHOOK_SECRET = "webhook-secret-0123456789abcdef"
HEADER_TOKEN = "header-token-9876543210"
URL_PASSWORD = "url-password-4242"


@pytest.fixture
def leaky(tmp_path: Path, receiver: Receiver) -> Iterator[tuple[RunningConsole, list[str]]]:
    """A hub full of personal data and secrets, and the secrets to look for."""
    url = receiver.url.replace("http://", f"http://ops:{URL_PASSWORD}@")
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "civil_affairs",
                "adapter": "webhook",
                "url": url,
                "secret": WEBHOOK_SECRET,
                "headers": {"Authorization": f"Bearer {HEADER_TOKEN}"},
                "retry": {"max_attempts": 1},
            }
        ],
        routes=[{"name": "cases", "when": {"type": "case.*"}, "to": ["civil_affairs"]}],
    )
    receiver.secret = WEBHOOK_SECRET
    with running_console(config, "admin", "operator", "viewer") as console:
        console.use_jobs(FakeJobs())
        api_key = console.client("dept")
        submitted = example("case.submitted", case_no="WH-2026-001000")
        submitted["applicant"]["id_no"] = RESIDENT_ID
        submitted["applicant"]["mobile"] = "13812345678"
        first = console.post(api_key, {"type": "case.submitted", "payload": submitted}).json()
        console.wait_delivered(first["id"])
        receiver.respond_with(400)
        changed = example(
            "case.status_changed",
            case_no="WH-2026-001001",
            opinion=f"申请人{OTHER_RESIDENT_ID}材料不全",
        )
        second = console.post(
            api_key,
            {"type": "case.status_changed", "payload": changed, "id": f"ref-{RESIDENT_ID}"},
        ).json()
        dead = console.wait_delivered(second["id"])
        assert dead["status"] == "dead"
        operator = signed_in(console, "operator")
        operator.post(
            "/ops/dead-letters/discard",
            {"ids": dead["deliveries"][0]["id"], "reason": f"applicant {RESIDENT_ID} withdrew"},
        )
        secret_key = console.app.config["SECRET_KEY"]
        yield (
            console,
            [
                RESIDENT_ID,
                OTHER_RESIDENT_ID,
                WEBHOOK_SECRET,
                HEADER_TOKEN,
                URL_PASSWORD,
                api_key,
                api_key.split("_")[-1],
                PASSWORD,
                secret_key,
                "13812345678",
            ],
        )


def _pages(console: RunningConsole) -> list[str]:
    """A URL for every GET page of the console, with real ids filled in."""
    message_ids = [m.envelope.id for m in console.hub.store.messages.search().items]
    values = {
        "message_id": message_ids,
        "job_id": ["hall.pull_applications", "credit.publish"],
        "run_id": ["run-1", "run-2"],
        "case_no": ["WH-2026-001001"],
        "project_no": ["WH-GC-2026-0001"],
        "code": ["11371000004336447K4370220001000"],
    }
    pages: list[str] = []
    skipped = {"ops.static", "ops.language", "ops.login"}
    for rule in console.app.url_map.iter_rules():
        if not rule.endpoint.startswith("ops.") or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint in skipped:
            continue
        unknown = set(rule.arguments) - set(values)
        assert not unknown, f"{rule.rule}: teach this test values for {unknown}"
        if not rule.arguments:
            pages.append(rule.rule)
            continue
        for message_id in values["message_id"]:
            for job_id in values["job_id"]:
                for run_id in values["run_id"]:
                    filled = {
                        "message_id": message_id,
                        "job_id": job_id,
                        "run_id": run_id,
                        "case_no": values["case_no"][0],
                        "project_no": values["project_no"][0],
                        "code": values["code"][0],
                    }
                    path = rule.rule
                    for name in rule.arguments:
                        path = re.sub(rf"<(?:\w+:)?{name}>", quote(filled[name]), path)
                    if path not in pages:
                        pages.append(path)
    searches = [
        f"/ops/messages?id={message_ids[0]}",
        "/ops/messages?case_no=WH-2026-001001",
        "/ops/messages?status=discarded",
        "/ops/dead-letters?error=HTTP",
        "/ops/audit?action=dlq.",
    ]
    return pages + searches


def test_no_page_shows_a_whole_resident_id_or_a_secret(
    leaky: tuple[RunningConsole, list[str]],
) -> None:
    console, secrets = leaky
    admin = signed_in(console, "admin")
    pages = _pages(console)
    assert len(pages) > 15
    rendered: dict[str, str] = {}
    for language in ("zh", "en"):
        admin.get(f"/ops/language/{language}")
        for path in pages:
            response = admin.get(path)
            assert response.status_code in (200, 404), (path, response.status_code)
            rendered[f"{language} {path}"] = response.text
    rendered["login"] = OpsClient(console.url).get("/ops/login").text
    for path in ("/metrics", "/readyz", "/api/v1/openapi.json"):
        rendered[path] = requests.get(console.url + path, timeout=10).text
    for where, html in rendered.items():
        for secret in secrets:
            assert secret not in html, f"{where} shows {secret[:6]}…"
    # The pages did show the data, masked.
    message_pages = "".join(html for where, html in rendered.items() if "/ops/messages/" in where)
    assert "110105********002X" in message_pages
    assert "110105********0048" in message_pages
    assert "138****5678" in message_pages
    counterparts = rendered["zh /ops/counterparts"]
    assert '"secret": "***"' in counterparts
    assert "http://***@127.0.0.1" in counterparts
    assert "withdrew" in rendered["zh /ops/audit"]


def test_a_new_api_key_is_shown_once_and_never_listed(
    leaky: tuple[RunningConsole, list[str]],
) -> None:
    console, _ = leaky
    admin = signed_in(console, "admin")
    created = admin.post(
        "/ops/admin/clients",
        {"name": "tax_bureau", "allow": "case.*", "role": "client"},
        token_from="/ops/admin/clients",
    )
    assert created.status_code == 201
    key = created.text.split('<pre class="key">')[1].split("</pre>")[0]
    assert key.startswith("ghk_")
    assert console.hub.store.clients.authenticate(key) is not None
    assert key not in admin.get("/ops/admin/clients").text
    [record] = [r for r in console.hub.store.audit.trail() if r["target"] == "tax_bureau"]
    assert record["actor"] == "admin"


def _urls(html: str) -> list[str]:
    """Every URL a page links to or submits to."""
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)


def test_a_searched_resident_id_travels_in_no_link(
    leaky: tuple[RunningConsole, list[str]],
) -> None:
    console, _ = leaky
    operator = signed_in(console, "operator")
    searched = f"ref-{RESIDENT_ID}"
    # A search typed into the form is posted: the resident ID is never in the page's URL.
    form = operator.get("/ops/messages")
    assert 'method="post" action="/ops/messages"' in form.text
    posted = operator.post("/ops/messages", {"id": searched}, token_from="/ops/messages")
    assert posted.status_code == 200
    assert "case.status_changed" in posted.text  # found it
    # A bookmarked search (a GET) is answered too, and neither links the ID onwards.
    linked = operator.get(f"/ops/messages?id={quote(searched)}&status=discarded")
    assert "case.status_changed" in linked.text
    for page in (posted, linked):
        urls = _urls(page.text)
        assert urls, "the page links somewhere"
        for url in urls:
            assert RESIDENT_ID not in url, url
    switch = [u for u in _urls(linked.text) if u.startswith("/ops/language/")]
    assert switch, "the language switch is there"
    assert all("status%3Ddiscarded" in u for u in switch)  # harmless terms stay
    # Signing in again after the session ends keeps the ID out of the sign-in link too.
    signed_out = OpsClient(console.url).get(f"/ops/messages?id={quote(searched)}")
    assert signed_out.status_code == 302
    assert RESIDENT_ID not in signed_out.headers["Location"]


def test_the_pager_posts_a_search_that_holds_a_resident_id(
    leaky: tuple[RunningConsole, list[str]],
) -> None:
    console, _ = leaky
    key = console.client("dept-many")
    case_no = f"WH-{RESIDENT_ID}"  # a case number that is (or holds) a resident ID
    for _ in range(PAGE_SIZE + 1):
        console.post(
            key, {"type": "case.submitted", "payload": example("case.submitted", case_no=case_no)}
        )
    operator = signed_in(console, "operator")
    first = operator.post("/ops/messages", {"case_no": case_no}, token_from="/ops/messages")
    assert all(RESIDENT_ID not in url for url in _urls(first.text))
    pager = first.text.split('<p class="pager">')[1].split("</p>")[0]
    assert 'method="post"' in pager
    assert f'name="case_no" value="{case_no}"' in pager
    after = re.search(r'name="after" value="([^"]+)"', pager)
    assert after is not None
    older = operator.post(
        "/ops/messages", {"case_no": case_no, "after": after[1]}, token_from="/ops/messages"
    )
    assert older.status_code == 200
    assert older.text.count('class="mono"') == 1  # the one message left
    # A harmless search keeps a plain link to its next page.
    plain = operator.get("/ops/messages?type=case.submitted")
    assert '<p class="pager"><a href="/ops/messages?type=case.submitted&amp;after=' in plain.text


def test_dead_letters_filtered_by_a_resident_id_keep_it_out_of_urls(
    leaky: tuple[RunningConsole, list[str]],
) -> None:
    console, _ = leaky
    operator = signed_in(console, "operator")
    page = operator.get("/ops/dead-letters")
    assert 'method="post" action="/ops/dead-letters"' in page.text
    searched = {"error": "HTTP", "case_no": f"WH-{RESIDENT_ID}"}
    posted = operator.post("/ops/dead-letters", searched, token_from="/ops/dead-letters")
    assert posted.status_code == 200
    assert all(RESIDENT_ID not in url for url in _urls(posted.text))
    # An action on the filtered list comes back to the list, not to a URL with the ID.
    back = operator.post(
        "/ops/dead-letters/replay",
        {**searched, "scope": "matching"},
        token_from="/ops/dead-letters",
    )
    assert back.status_code == 302
    assert RESIDENT_ID not in back.headers["Location"]
    # A message's case number leads to its case's messages by a posted search when it
    # holds an ID, by a link otherwise.
    key = console.client("dept-2")
    payload = example("case.submitted", case_no=f"WH-{RESIDENT_ID}")
    message_id = console.post(key, {"type": "case.submitted", "payload": payload}).json()["id"]
    trace = operator.get(f"/ops/messages/{message_id}").text
    assert all(RESIDENT_ID not in url for url in _urls(trace))
    assert f'<input type="hidden" name="case_no" value="WH-{RESIDENT_ID}">' in trace
    plain = console.hub.store.messages.search().items[-1].envelope  # the fixture's first
    assert (
        f'href="/ops/messages?case_no={plain.correlation_id}"'
        in operator.get(f"/ops/messages/{plain.id}").text
    )
