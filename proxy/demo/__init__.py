"""A WordPress-shaped upstream: WordPress 7.1 + mcp-adapter 0.5.0 as observed, in one process.

Used by `make demo`, the acceptance checks and the sidecar's end-to-end tests, so it answers
what a real site answers (see /work/shared/upstream.md), and exposes hooks on `DemoSite` for
tests: counters of what reached it, the headers it saw, capabilities and passwords to change.
Its users log in on `wp-login.php` with `DEMO_LOGIN_PASSWORDS` and approve Application Passwords
on `wp-admin/authorize-application.php`, as the sidecar's /oauth/authorize flow needs.
"""

from proxy.demo.app import DEMO_MCP_PATH, build_demo_app
from proxy.demo.running import RunningDemo, run_demo_upstream, start_demo_upstream
from proxy.demo.site import DemoSite, RecordedRequest
from proxy.demo.users import DEMO_APP_PASSWORDS, DEMO_LOGIN_PASSWORDS

__all__ = [
    "DEMO_APP_PASSWORDS",
    "DEMO_LOGIN_PASSWORDS",
    "DEMO_MCP_PATH",
    "DemoSite",
    "RecordedRequest",
    "RunningDemo",
    "build_demo_app",
    "run_demo_upstream",
    "start_demo_upstream",
]
