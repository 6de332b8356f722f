"""`wp/v2/users/me/application-passwords`: what a client holding an Application Password may learn
about it and undo.

`introspect` says which password authenticated the request (404 `rest_no_authenticated_app_password`
when the user logged in some other way); `DELETE /<uuid>` removes one of the user's passwords, the one
in use included, which is refused from then on (401).
"""

from __future__ import annotations

from proxy.demo.responses import RestError, WPJSONResponse
from proxy.demo.rest_server import RestCall, RestRoute, current_app_password
from proxy.demo.users import DemoUser

__all__ = ["app_passwords_routes"]

_ROUTE = "/users/me/application-passwords"


def _me(call: RestCall) -> DemoUser:
    if call.user is None:
        raise RestError("rest_not_logged_in", "You are not currently logged in.", 401)
    return call.user


async def _list(call: RestCall) -> WPJSONResponse:
    return WPJSONResponse([app_password.describe() for app_password in _me(call).app_passwords])


async def _introspect(call: RestCall) -> WPJSONResponse:
    _me(call)
    app_password = current_app_password(call.request)
    if app_password is None:
        raise RestError("rest_no_authenticated_app_password", "Cannot introspect application password.", 404)
    return WPJSONResponse(app_password.describe())


async def _delete(call: RestCall) -> WPJSONResponse:
    deleted = _me(call).delete_app_password(call.params["uuid"])
    if deleted is None:
        raise RestError("rest_application_password_not_found", "Application password not found.", 404)
    return WPJSONResponse({"deleted": True, "previous": deleted.describe()})


def app_passwords_routes() -> list[RestRoute]:
    return [
        RestRoute("wp/v2", _ROUTE, ("GET",), _list),
        RestRoute("wp/v2", f"{_ROUTE}/introspect", ("GET",), _introspect),
        RestRoute("wp/v2", rf"{_ROUTE}/(?P<uuid>[\w\-]+)", ("DELETE",), _delete),
    ]
