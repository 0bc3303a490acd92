"""The policy: what to count, when to refuse, and for how long."""

from scrapeguard.policy.errors import PolicyError, PolicyProblem
from scrapeguard.policy.loading import default_policy, load_policy, load_policy_text
from scrapeguard.policy.model import Policy
from scrapeguard.policy.options import defaults_text

__all__ = [
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "default_policy",
    "defaults_text",
    "load_policy",
    "load_policy_text",
]
