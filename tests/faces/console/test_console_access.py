"""Who may see and do what in the console: sign-in, roles, CSRF, sessions, throttling."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from faces.console.tables import user_sessions
from faces.console.web import SESSION_COOKIE
from tests.ops_support import PASSWORD, FakeJobs, OpsClient, RunningConsole, csrf_token, signed_in
from tests.support import example

PAGES = (
    "/ops/",
    "/ops/messages",
    "/ops/dead-letters",
    "/ops/jobs",
    "/ops/counterparts",
    "/ops/audit",
    "/ops/account",
    "/ops/admin/users",
    "/ops/admin/clients",
)


def test_signed_out_visitor_is_sent_to_sign_in(console: RunningConsole) -> None:
    visitor = OpsClient(console.url)
    for path in PAGES:
        response = visitor.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/ops/login?next={path}"


def test_signed_out_form_post_changes_nothing(console: RunningConsole) -> None:
    visitor = OpsClient(console.url)
    token = csrf_token(visitor.get("/ops/login").text)
    response = visitor.session.post(
        console.url + "/ops/dead-letters/replay",
        data={"csrf_token": token, "scope": "matching"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ops/login")


def test_sign_in_lands_on_the_page_asked_for(console: RunningConsole) -> None:
    client = OpsClient(console.url)
    login = client.get("/ops/login?next=/ops/dead-letters")
    response = client.session.post(
        console.url + "/ops/login",
        data={
            "name": "viewer",
            "password": PASSWORD,
            "next": "/ops/dead-letters",
            "csrf_token": csrf_token(login.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/ops/dead-letters"
    assert client.get("/ops/dead-letters").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/api/v1/x"])
def test_sign_in_never_redirects_outside_the_console(console: RunningConsole, target: str) -> None:
    client = OpsClient(console.url)
    login = client.get("/ops/login")
    response = client.session.post(
        console.url + "/ops/login",
        data={
            "name": "viewer",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_token(login.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.headers["Location"] == "/ops/"


def test_session_cookie_is_http_only_and_same_site(console: RunningConsole) -> None:
    response = OpsClient(console.url).sign_in("viewer")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


FORBIDDEN_TO_VIEWERS = (
    ("/ops/dead-letters/replay", {"scope": "matching"}),
    ("/ops/dead-letters/discard", {"scope": "matching", "reason": "spam"}),
    ("/ops/jobs/hall.pull_applications/run", {}),
    ("/ops/jobs/hall.pull_applications/pause", {}),
    ("/ops/jobs/credit.publish/resume", {}),
    ("/ops/counterparts/civil_affairs/check", {}),
    ("/ops/admin/users", {"name": "mallory", "role": "admin", "password": PASSWORD}),
    ("/ops/admin/users/operator/disable", {}),
    ("/ops/admin/clients", {"name": "mallory", "allow": "case.*"}),
    ("/ops/admin/clients/dept/revoke", {}),
)


def test_viewer_may_not_act(console: RunningConsole) -> None:
    jobs = FakeJobs()
    console.use_jobs(jobs)
    console.client("dept")
    viewer = signed_in(console, "viewer")
    for path, data in FORBIDDEN_TO_VIEWERS:
        response = viewer.post(path, data)
        assert response.status_code == 403, path
        assert "403" in response.text
    assert jobs.calls == []
    assert console.hub.store.clients.get("mallory") is None
    assert console.hub.store.clients.get("dept").revoked_at is None  # type: ignore[union-attr]
    assert console.app.extensions["govhub_ops"].users.get("operator").disabled_at is None


def test_only_admins_see_administration(console: RunningConsole) -> None:
    viewer, operator = signed_in(console, "viewer"), signed_in(console, "operator")
    admin = signed_in(console, "admin")
    for path in ("/ops/admin/users", "/ops/admin/clients"):
        assert viewer.get(path).status_code == 403
        assert operator.get(path).status_code == 403
        assert admin.get(path).status_code == 200
    assert "/ops/admin/users" not in operator.get("/ops/").text
    assert "/ops/admin/users" in admin.get("/ops/").text


def test_form_post_without_csrf_token_is_refused(console: RunningConsole) -> None:
    operator = signed_in(console, "operator")
    response = operator.session.post(
        console.url + "/ops/dead-letters/replay",
        data={"scope": "matching"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "安全令牌" in response.text  # "security token", in the default language
    forged = operator.session.post(
        console.url + "/ops/admin/users",
        data={"name": "x", "role": "admin", "password": PASSWORD, "csrf_token": "forged"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 400


def test_sign_in_form_without_csrf_token_is_refused(console: RunningConsole) -> None:
    response = OpsClient(console.url).session.post(
        console.url + "/ops/login",
        data={"name": "admin", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400


def test_wrong_password_is_refused_and_repeated_failures_lock_the_name(
    console: RunningConsole,
) -> None:
    client = OpsClient(console.url)
    for _ in range(5):
        assert client.sign_in("operator", "wrong password!").status_code == 401
    # Now even the right password is refused until the window passes.
    locked = client.sign_in("operator", PASSWORD)
    assert locked.status_code == 429
    assert "15" in locked.text
    assert OpsClient(console.url).sign_in("viewer").status_code == 302


def test_unknown_name_fails_like_a_wrong_password(console: RunningConsole) -> None:
    response = OpsClient(console.url).sign_in("nobody", PASSWORD)
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_idle_session_expires(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    assert viewer.get("/ops/").status_code == 200
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with console.hub.store.db.write() as connection:
        connection.execute(update(user_sessions).values(last_seen_at=long_ago))
    response = viewer.get("/ops/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ops/login")


def test_session_ends_at_its_absolute_limit(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    with console.hub.store.db.write() as connection:
        connection.execute(
            update(user_sessions).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
        )
    assert viewer.get("/ops/").status_code == 302


def test_signing_out_ends_the_session_on_the_server(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    stolen = dict(viewer.session.cookies)
    assert viewer.post("/ops/logout").status_code == 302
    replayed = OpsClient(console.url)
    replayed.session.cookies.update(stolen)
    assert replayed.get("/ops/").status_code == 302


def test_disabling_a_user_ends_their_sessions(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    admin = signed_in(console, "admin")
    assert admin.post("/ops/admin/users/viewer/disable").status_code == 302
    assert viewer.get("/ops/").status_code == 302
    assert OpsClient(console.url).sign_in("viewer").status_code == 401


def test_role_change_applies_on_the_next_page(console: RunningConsole) -> None:
    operator = signed_in(console, "operator")
    assert operator.post("/ops/dead-letters/replay", {"scope": "matching"}).status_code == 302
    admin = signed_in(console, "admin")
    admin.post("/ops/admin/users/operator/role", {"role": "viewer"})
    assert operator.post("/ops/dead-letters/replay", {"scope": "matching"}).status_code == 403


def test_admin_cannot_lock_themselves_out(console: RunningConsole) -> None:
    admin = signed_in(console, "admin")
    admin.post("/ops/admin/users/admin/disable")
    admin.post("/ops/admin/users/admin/role", {"role": "viewer"})
    user = console.app.extensions["govhub_ops"].users.get("admin")
    assert user.role == "admin"
    assert user.disabled_at is None


def test_pages_are_chinese_by_default_and_english_on_request(console: RunningConsole) -> None:
    viewer = signed_in(console, "viewer")
    page = viewer.get("/ops/")
    assert "概览" in page.text
    assert 'lang="zh-CN"' in page.text
    switched = viewer.get("/ops/language/en?next=/ops/dead-letters")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/ops/dead-letters"
    english = viewer.get("/ops/dead-letters")
    assert "Dead letters" in english.text
    assert "死信" not in english.text
    viewer.get("/ops/language/zh")
    assert "死信" in viewer.get("/ops/dead-letters").text


def test_pages_forbid_framing_caching_and_foreign_content(console: RunningConsole) -> None:
    response = signed_in(console, "viewer").get("/ops/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_console_serves_its_own_style_and_script(console: RunningConsole) -> None:
    page = signed_in(console, "viewer").get("/ops/").text
    assert "http://" not in page.replace(console.url, "")
    assert "https://" not in page
    client = OpsClient(console.url)
    assert client.get("/ops/static/ops.css").status_code == 200
    assert client.get("/ops/static/ops.js").status_code == 200


def test_api_posts_need_no_csrf_token(console: RunningConsole) -> None:
    key = console.client("dept")
    response = console.post(key, {"type": "case.submitted", "payload": example("case.submitted")})
    assert response.status_code == 202
