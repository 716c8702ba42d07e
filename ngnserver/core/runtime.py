"""Runtime data: what a SIP network knows while it runs (calls, registered devices, SIP and
media traces, media sessions, presence), which this provisioning server does not hold.

NGNPro asked the proxy, the media relay and the presence agent for it; we have none of
them. Every such request says so once in the log. Where the caller is a customer's page that
only lists what it gets (call history, monthly usage, registered devices), the answer is the
empty result, after the SIP account is found in the caller's scope, so that the page renders
and no one learns of accounts outside their scope. Where an empty answer would mislead
someone looking at it (an operator reading a call's trace or the media relay's sessions, a
presence publication that would be dropped), the answer is 13001 with a sentence that says
where that data lives.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ngnserver.core.errors import E, NGNError
from ngnserver.core.sip import Sip

log = logging.getLogger("ngnserver.runtime")

_HOLDERS = {
    "SIP traces": "the SIP proxy's siptrace table (or SIP Thor) holds them",
    "media traces": "the media relay (MediaProxy) holds them",
    "media sessions": "the media relay (MediaProxy) holds them",
    "presence information": "a SIP presence server holds it",
}


def no_runtime_data(operation: str, kind: str) -> None:
    """Say in the log, once for this request, that ``operation`` asked for runtime data."""
    log.info("%s asked for %s: this server holds no runtime data", operation, kind)


def refuse(operation: str, kind: str) -> NGNError:
    """The fault for runtime data ``kind`` (a key of ``_HOLDERS``), logged once."""
    no_runtime_data(operation, kind)
    return NGNError(
        E.NO_RUNTIME_DATA,
        f"This provisioning server holds no {kind}; {_HOLDERS[kind]}. Ask that server, not this one.",
    )


class Runtime:
    """The empty answers, each for accounts that exist in the caller's scope."""

    def __init__(self, sip: Sip) -> None:
        self.sip = sip

    def calls(self, operation: str, sip_id: Mapping[str, Any] | None) -> None:
        """Check the account a call history or call statistics are asked for: the answer is
        empty (no calls known here)."""
        self.sip.account(sip_id)
        no_runtime_data(operation, "calls")

    def device_locations(self, operation: str, sip_ids: Sequence[Mapping[str, Any] | None] | None) -> list[Any]:
        """The accounts whose registered devices are asked for, each found in scope (1012 for
        the first that is not), in the order asked: none has a device known here."""
        accounts = [self.sip.account(sip_id) for sip_id in sip_ids or []]
        no_runtime_data(operation, "registered devices")
        return accounts
