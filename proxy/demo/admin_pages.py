"""`wp-login.php` and `wp-admin/authorize-application.php`: the pages a person goes through when an app
asks for an Application Password (where the sidecar's /oauth/authorize sends browsers).

As observed on WordPress 7.1 (upstream.md): not logged in, the authorization page sends the browser
to `wp-login.php` and back. Its form carries a nonce tied to the login cookie, so POSTing it with other
cookies (or none) is a 403. Approving makes a new Application Password (every time, even for the same
`app_id`) and 302s to `success_url` plus `site_url`, `user_login` and `password`, keeping the query
`success_url` had; without a `success_url` the password is shown on the page. Rejecting 302s to
`reject_url` exactly (default: `success_url` plus `success=false`). `success_url`, `reject_url` and
`app_id` are checked when the page is shown, not when the form is posted; redirect URLs must be https,
or http to a loopback address (`127.0.0.1`, `[::1]`; not `localhost`), unless the site's environment
type is `local` (`wp_is_authorize_application_redirect_url_valid`). Refusals of those parameters are
answered 400 here (WordPress's `wp_die` page).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from proxy.demo.rest_server import site_url
from proxy.demo.site import DemoSite
from proxy.demo.users import DemoUser

__all__ = ["AUTHORIZE_APPLICATION_PATH", "LOGGED_IN_COOKIE", "LOGIN_PATH", "TEST_COOKIE", "admin_routes"]

LOGIN_PATH = "/wp-login.php"
AUTHORIZE_APPLICATION_PATH = "/wp-admin/authorize-application.php"
LOGGED_IN_COOKIE = "wordpress_logged_in_5c0de"  # wordpress_logged_in_<md5 of the site URL> on a real site
TEST_COOKIE = "wordpress_test_cookie"
_NONCE_ACTION = "authorize_application_password"
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    document = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8"><title>{html.escape(title)}'
        f"</title></head><body>{body}</body></html>\n"
    )
    return HTMLResponse(document, status_code=status)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{html.escape(value)}">'


def _nonce(site: DemoSite, token: str) -> str:
    """`wp_create_nonce`: keyed by the site's secret, the action and the login session."""
    return hmac.new(site.secret, f"{_NONCE_ACTION}|{token}".encode(), hashlib.sha256).hexdigest()[:10]


def _logged_in(site: DemoSite, request: Request) -> tuple[DemoUser, str] | None:
    """The user the logged-in cookie belongs to, with its session token."""
    login, _, token = request.cookies.get(LOGGED_IN_COOKIE, "").partition("|")
    if not token or not hmac.compare_digest(site.login_sessions.get(token, ""), login):
        return None
    user = site.users.get(login)
    return None if user is None else (user, token)


def _with_query(url: str, params: dict[str, str]) -> str:
    """`add_query_arg`: the parameters appended, whatever query the URL had kept."""
    parts = urlsplit(url)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _redirect_url_problem(url: str, *, local: bool) -> str | None:
    """`wp_is_authorize_application_redirect_url_valid` (WordPress 7), loopback exception included."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname or parts.scheme.lower() in ("javascript", "data"):
        return "Invalid URL format."
    if parts.scheme.lower() == "http" and not local and parts.hostname not in _LOOPBACK:
        return "The URL must be served over a secure connection."
    return None


def _safe_redirect(request: Request, target: str) -> str:
    """`wp_safe_redirect`: only to this site (relative, or the same host), else the dashboard."""
    base = site_url(request)
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//"):
        return base + target
    if parts.scheme in ("http", "https") and parts.netloc == urlsplit(base).netloc:
        return target
    return base + "/wp-admin/"


def _login_form(request: Request, redirect_to: str, error: str | None = None) -> HTMLResponse:
    base = site_url(request)
    message = f'<div id="login_error">{html.escape(error)}</div>' if error else ""
    body = (
        f"<h1>Log In</h1>{message}"
        f'<form name="loginform" id="loginform" action="{base}{LOGIN_PATH}" method="post">'
        '<label>Username or Email Address <input type="text" name="log" value=""></label>'
        '<label>Password <input type="password" name="pwd" value=""></label>'
        '<input type="checkbox" name="rememberme" value="forever">'
        '<input type="submit" name="wp-submit" value="Log In">'
        f"{_hidden('redirect_to', redirect_to)}{_hidden('testcookie', '1')}</form>"
    )
    response = _page("Log In", body)
    response.set_cookie(TEST_COOKIE, "WP Cookie check", path="/")
    return response


async def _login(site: DemoSite, request: Request) -> Response:
    if request.method == "GET":
        return _login_form(request, request.query_params.get("redirect_to", ""))
    form = await request.form()
    redirect_to = str(form.get("redirect_to", ""))
    if TEST_COOKIE not in request.cookies:
        return _login_form(request, redirect_to, "Cookies are blocked or not supported by your browser.")
    login, password = str(form.get("log", "")), str(form.get("pwd", ""))
    user = site.users.get(login)
    if user is None or not user.check_login_password(password):
        return _login_form(request, redirect_to, "The username or password you entered is incorrect.")
    token = secrets.token_urlsafe(32)
    site.login_sessions[token] = user.login
    response = RedirectResponse(_safe_redirect(request, redirect_to), status_code=302)
    response.set_cookie(LOGGED_IN_COOKIE, f"{user.login}|{token}", path="/", httponly=True)
    return response


def _request_problem(site: DemoSite, app_id: str, success_url: str, reject_url: str) -> str | None:
    if app_id:
        try:
            uuid.UUID(app_id)
        except ValueError:
            return "The application ID must be a UUID."
    local = site.environment_type == "local"
    return _redirect_url_problem(success_url, local=local) or _redirect_url_problem(reject_url, local=local)


def _approval_form(site: DemoSite, request: Request, user: DemoUser, token: str) -> Response:
    query = request.query_params
    app_name, app_id = query.get("app_name", ""), query.get("app_id", "")
    success_url, reject_url = query.get("success_url", ""), query.get("reject_url", "")
    problem = _request_problem(site, app_id, success_url, reject_url)
    if problem is not None:
        return _page("Error", f"<p>{html.escape(problem)}</p>", status=400)
    base = site_url(request)
    body = (
        f"<h1>Authorize Application</h1><p>Howdy, {html.escape(user.display_name)}. "
        f"Would you like to give <strong>{html.escape(app_name or 'this application')}</strong> "
        "access to your account?</p>"
        f'<form action="{base}{AUTHORIZE_APPLICATION_PATH}" method="post" id="approve-app">'
        f"{_hidden('action', _NONCE_ACTION)}{_hidden('_wpnonce', _nonce(site, token))}"
        f'<label>New Application Password Name <input type="text" name="app_name" '
        f'value="{html.escape(app_name)}"></label>'
        f"{_hidden('app_id', app_id)}{_hidden('success_url', success_url)}{_hidden('reject_url', reject_url)}"
        '<button type="submit" name="approve" value="Yes, I approve of this connection">Yes</button>'
        '<button type="submit" name="reject" value="No, I do not approve of this connection">No</button>'
        "</form>"
    )
    return _page("Authorize Application", body)


def _decide(site: DemoSite, request: Request, user: DemoUser, form: FormData) -> Response:
    success_url, reject_url = str(form.get("success_url", "")), str(form.get("reject_url", ""))
    if "reject" in form:
        target = reject_url or (_with_query(success_url, {"success": "false"}) if success_url else "")
        return RedirectResponse(target or site_url(request) + "/wp-admin/", status_code=302)
    if "approve" not in form:
        return _page("Error", "<p>Choose whether to approve the connection.</p>", status=400)
    app_name = str(form.get("app_name", "")) or "Unnamed application"
    password = user.create_app_password(name=app_name, app_id=str(form.get("app_id", "")))
    if not success_url:
        shown = " ".join(password[i : i + 4] for i in range(0, len(password), 4))
        body = (
            f'<p>Your new password for {html.escape(app_name)} is: <kbd id="new-password">{shown}</kbd></p>'
        )
        return _page("Application Password Created", body)
    params = {"site_url": site_url(request), "user_login": user.login, "password": password}
    return RedirectResponse(_with_query(success_url, params), status_code=302)


async def _authorize_application(site: DemoSite, request: Request) -> Response:
    logged_in = _logged_in(site, request)
    if logged_in is None:  # auth_redirect(): log in, then come back here
        query = urlencode({"redirect_to": str(request.url), "reauth": "1"})
        return RedirectResponse(f"{site_url(request)}{LOGIN_PATH}?{query}", status_code=302)
    user, token = logged_in
    if request.method == "GET":
        return _approval_form(site, request, user, token)
    form = await request.form()
    if not hmac.compare_digest(str(form.get("_wpnonce", "")), _nonce(site, token)):
        return _page("Something went wrong.", "<p>The link you followed has expired.</p>", status=403)
    return _decide(site, request, user, form)


def admin_routes(site: DemoSite) -> list[Route]:
    async def login(request: Request) -> Response:
        return await _login(site, request)

    async def authorize_application(request: Request) -> Response:
        return await _authorize_application(site, request)

    return [
        Route(LOGIN_PATH, login, methods=["GET", "POST"]),
        Route(AUTHORIZE_APPLICATION_PATH, authorize_application, methods=["GET", "POST"]),
    ]
