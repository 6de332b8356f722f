"""Authorization: the decision engine and the WordPress capability resolver."""

from proxy.authz.capabilities import CapabilityResolver
from proxy.authz.decision import AccessView, Authorizer, Denial

__all__ = ["AccessView", "Authorizer", "CapabilityResolver", "Denial"]
