"""The vendor clients the syncs use, made from their settings (``config.IxcSettings``,
``config.OzmapSettings``), so that every sync talks to IXC and OZmap the same way."""

from __future__ import annotations

import logging
from typing import Any

from ngnserver.vendors.ixc import IxcClient
from ngnserver.vendors.ozmap import OzmapClient

DEBUG_LOG = logging.getLogger("ngnserver.vendors.debug")
"""Where the clients write every request and answer, at DEBUG (secrets masked)."""


def ixc_client(settings: Any, pool_size: int = 4) -> IxcClient:
    """The IXC client of ``settings.ixc``, keeping ``pool_size`` connections alive."""
    ixc = settings.ixc
    return IxcClient(
        ixc.url, ixc.token, verify=ixc.verify_tls, connect_timeout=ixc.connect_timeout,
        read_timeout=ixc.read_timeout, retries=ixc.retries, backoff=ixc.backoff,
        page_size=ixc.page_size, pool_size=pool_size, debug_log=DEBUG_LOG,
    )  # fmt: skip


def ozmap_client(settings: Any, pool_size: int) -> OzmapClient:
    """The OZmap client of ``settings.ozmap``, keeping ``pool_size`` connections alive."""
    ozmap = settings.ozmap
    return OzmapClient(
        ozmap.url, ozmap.key, user=ozmap.user, password=ozmap.password, verify=ozmap.verify_tls,
        connect_timeout=ozmap.connect_timeout, read_timeout=ozmap.read_timeout,
        retries=ozmap.retries, backoff=ozmap.backoff, page_size=ozmap.page_size,
        pool_size=pool_size, debug_log=DEBUG_LOG,
    )  # fmt: skip
