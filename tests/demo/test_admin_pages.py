"""wp-login.php and wp-admin/authorize-application.php, driven like a browser without JavaScript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from proxy.demo import DEMO_LOGIN_PASSWORDS
from proxy.demo.admin_pages import AUTHORIZE_APPLICATION_PATH, LOGGED_IN_COOKIE, LOGIN_PATH
from tests.demo.browser import Browser, Page
from tests.demo.wp_client import WpClient, basic

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP_ID = "0b8e2f1c-6a55-4c8e-9d1a-3f4e5a6b7c8d"
CLIENT = "http://127.0.0.1:9/callback"


@pytest_asyncio.fixture(loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(http)


def authorize_url(wp: WpClient, **params: str) -> str:
    query = {"app_name": "Claude", "app_id": APP_ID, "success_url": CLIENT + "?state=s1", **params}
    return f"{wp.demo.url}{AUTHORIZE_APPLICATION_PATH}?{urlencode(query)}"


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def test_not_logged_in_goes_to_the_login_page_and_back(wp: WpClient, browser: Browser) -> None:
    url = authorize_url(wp)
    landed = await browser.go(url)
    assert isinstance(landed, Page)
    login_url = browser.visited[1]
    assert login_url.startswith(wp.demo.url + LOGIN_PATH + "?")
    back = query_of(login_url)
    assert back["reauth"] == "1"
    assert back["redirect_to"].startswith(wp.demo.url + AUTHORIZE_APPLICATION_PATH + "?")
    assert query_of(back["redirect_to"]) == query_of(url)
    assert landed.forms()["loginform"].fields["redirect_to"] == back["redirect_to"]
    logged_in = await browser.submit(
        landed, "loginform", button="wp-submit", log="editor", pwd=DEMO_LOGIN_PASSWORDS["editor"]
    )
    assert isinstance(logged_in, Page)
    assert logged_in.url == back["redirect_to"]
    form = logged_in.forms()["approve-app"]
    assert form.fields["app_name"] == "Claude"
    assert (form.fields["app_id"], form.fields["success_url"]) == (APP_ID, CLIENT + "?state=s1")
    assert len(form.fields["_wpnonce"]) == 10


async def test_approval_makes_a_new_application_password_and_redirects(
    wp: WpClient, browser: Browser
) -> None:
    landed = await browser.approve(authorize_url(wp), login="editor", stop_at=CLIENT)
    assert isinstance(landed, str)
    params = query_of(landed)
    assert params.keys() == {"state", "site_url", "user_login", "password"}
    assert (params["state"], params["site_url"], params["user_login"]) == ("s1", wp.demo.url, "editor")
    assert len(params["password"]) == 24
    assert params["password"].isalnum()
    me = await wp.request(
        "GET",
        "/wp-json/wp/v2/users/me?context=edit",
        headers={"Authorization": basic("editor", params["password"])},
    )
    assert me.status == 200
    assert me.json["username"] == "editor"
    created = wp.demo.site.app_passwords("editor")[-1]
    assert (created.app_id, created.name) == (APP_ID, "Claude")


async def test_every_approval_makes_another_password_even_for_the_same_app(
    wp: WpClient, browser: Browser
) -> None:
    first = await browser.approve(authorize_url(wp), login="subscriber", stop_at=CLIENT)
    second = await browser.approve(authorize_url(wp), login="subscriber", stop_at=CLIENT)
    assert isinstance(first, str)
    assert isinstance(second, str)
    assert query_of(first)["password"] != query_of(second)["password"]
    assert [p.app_id for p in wp.demo.site.app_passwords("subscriber")][1:] == [APP_ID, APP_ID]


@pytest.mark.parametrize(
    ("reject_url", "expected"),
    [
        ("https://app.example/denied?x=1", "https://app.example/denied?x=1"),
        ("", CLIENT + "?state=s1&success=false"),
    ],
)
async def test_rejection_goes_to_the_reject_url(
    wp: WpClient, browser: Browser, reject_url: str, expected: str
) -> None:
    stop = expected.split("?")[0]
    landed = await browser.approve(
        authorize_url(wp, reject_url=reject_url), login="admin", stop_at=stop, approve=False
    )
    assert landed == expected
    assert len(wp.demo.site.app_passwords("admin")) == 1  # only the one made at install


async def test_approval_without_success_url_shows_the_password(wp: WpClient, browser: Browser) -> None:
    landed = await browser.approve(authorize_url(wp, success_url=""), login="editor", stop_at=CLIENT)
    assert isinstance(landed, Page)
    assert 'id="new-password"' in landed.text
    assert len(wp.demo.site.app_passwords("editor")) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"success_url": "http://localhost:9/cb"}, "must be served over a secure connection"),
        ({"success_url": "http://app.example/cb"}, "must be served over a secure connection"),
        ({"reject_url": "javascript:alert(1)"}, "Invalid URL format."),
        ({"success_url": "/relative/cb"}, "Invalid URL format."),
        ({"app_id": "not-a-uuid"}, "must be a UUID"),
    ],
)
async def test_bad_parameters_are_refused_when_the_page_is_shown(
    wp: WpClient, browser: Browser, params: dict[str, str], message: str
) -> None:
    landed = await browser.approve(authorize_url(wp, **params), login="editor", stop_at=CLIENT)
    assert isinstance(landed, Page)
    assert landed.status == 400
    assert message in landed.text
    assert len(wp.demo.site.app_passwords("editor")) == 1


@pytest.mark.parametrize(
    "success_url",
    ["https://app.example/cb", "http://127.0.0.1:9/cb", "http://[::1]:9/cb", "myapp://callback"],
)
async def test_https_and_loopback_success_urls_are_accepted(
    wp: WpClient, browser: Browser, success_url: str
) -> None:
    landed = await browser.approve(
        authorize_url(wp, success_url=success_url), login="editor", stop_at=success_url
    )
    assert isinstance(landed, str)
    assert query_of(landed)["user_login"] == "editor"


async def test_a_local_site_accepts_any_http_success_url(
    wp: WpClient, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wp.demo.site, "environment_type", "local")
    success_url = "http://localhost:8080/oauth/callback?txn=t"
    landed = await browser.approve(
        authorize_url(wp, success_url=success_url), login="editor", stop_at=success_url
    )
    assert isinstance(landed, str)
    assert query_of(landed)["txn"] == "t"


async def test_a_wrong_password_or_no_test_cookie_does_not_log_in(wp: WpClient, browser: Browser) -> None:
    landed = await browser.approve(authorize_url(wp), login="editor", stop_at=CLIENT, password="wrong")
    assert isinstance(landed, Page)
    assert "incorrect" in landed.text
    form = {"log": "editor", "pwd": DEMO_LOGIN_PASSWORDS["editor"], "testcookie": "1"}
    # a default jar refuses cookies of an IP host: the test cookie never comes back
    async with (
        aiohttp.ClientSession() as cookieless,
        cookieless.post(wp.demo.url + LOGIN_PATH, data=form, allow_redirects=False) as response,
    ):
        assert response.status == 200
        assert "Cookies are blocked" in await response.text()
        assert LOGGED_IN_COOKIE not in response.cookies


async def test_the_form_only_works_with_the_login_session_it_was_made_for(
    wp: WpClient, browser: Browser
) -> None:
    first = await browser.approve(authorize_url(wp), login="editor", stop_at=CLIENT, approve=False)
    assert isinstance(first, str)
    page = await browser.go(authorize_url(wp))
    assert isinstance(page, Page)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        other = Browser(http)
        await other.approve(authorize_url(wp), login="editor", stop_at=CLIENT, approve=False)  # logs in too
        stolen = page.forms()["approve-app"]
        async with http.post(
            page.url, data={**stolen.fields, "approve": "yes"}, allow_redirects=False
        ) as response:
            assert response.status == 403
    assert len(wp.demo.site.app_passwords("editor")) == 1


async def test_login_redirects_only_to_this_site(wp: WpClient, browser: Browser) -> None:
    page = await browser.go(f"{wp.demo.url}{LOGIN_PATH}?redirect_to=https://evil.example/")
    assert isinstance(page, Page)
    landed = await browser.submit(
        page,
        "loginform",
        button="wp-submit",
        stop_at=wp.demo.url,
        log="admin",
        pwd=DEMO_LOGIN_PASSWORDS["admin"],
    )
    assert landed == wp.demo.url + "/wp-admin/"
