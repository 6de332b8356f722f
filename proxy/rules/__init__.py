"""Policy data: which capability, scope and toolsets each tool, ability and command needs."""

from proxy.rules.loader import load_rules
from proxy.rules.model import Kind, Rule, Rules, Toolset
from proxy.rules.schema import ResultCap

__all__ = ["Kind", "ResultCap", "Rule", "Rules", "Toolset", "load_rules"]
