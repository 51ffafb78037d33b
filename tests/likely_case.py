"""A likely victim and the two agents' sides that reach it, for the tests of the one victim rule
(:func:`ringmap.privacy.likely_victims`): an account of no known user, contacted by an agent's
own account and by an acting account (of no known user, holding an IP of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from ringmap.testing import CaseBuilder


@dataclass(frozen=True, slots=True)
class LikelyCase:
    """The node ids :func:`add_likely_victim` added."""

    agent: str
    own: str
    likely: str
    acting: str


def add_likely_victim(case: CaseBuilder, agent_id: str = "AG-1") -> LikelyCase:
    """Add to ``case`` the agent ``agent_id``, his account, the likely victim
    ``facebook/who.is.this.1999`` ("Real Name Kid") and the acting account
    ``skype/acting.agent``."""
    agent = case.person(agent_id, name=f"Agent {agent_id}")
    own = case.account("facebook", f"{agent_id.lower()}.fake")
    case.link("USES", agent, own)
    likely = case.account("facebook", "who.is.this.1999", display_name="Real Name Kid")
    case.contact(own, likely, count=3)
    acting = case.account("skype", "acting.agent")
    case.link("LOGGED_IN_FROM", acting, case.node("IPAddress", address="203.0.113.10"))
    case.contact(acting, likely)
    return LikelyCase(agent, own, likely, acting)
