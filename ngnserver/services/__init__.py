"""One module per NGNPro port: spyne service classes and their wire types."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # spyne 2.14 bundles six and imports cgi; both warn on Python 3.11.
    warnings.simplefilter("ignore")
    import spyne  # noqa: F401

from ngnserver.services import (
    customer,
    dns,
    dsl,
    enum,
    network,
    prepaid,
    pstn,
    rating,
    runtime,
    server,
    sip,
    sip_settings,
    voicemail,
)

# (port name, port namespace, service class or classes) for every port this server serves
PORTS = [
    ("Customer", customer.NAMESPACE, customer.CustomerService),
    ("Sip", sip.NAMESPACE, (sip.SipService, pstn.PstnService, sip_settings.SipSettingsService, runtime.RuntimeService, prepaid.PrepaidService)),
    ("Enum", enum.NAMESPACE, enum.EnumService),
    ("Dns", dns.NAMESPACE, dns.DnsService),
    ("Network", network.NAMESPACE, network.NetworkService),
    ("Dsl", dsl.NAMESPACE, dsl.DslServicePort),
    ("Server", server.NAMESPACE, server.ServerServicePort),
    ("Presence", runtime.PRESENCE_NAMESPACE, runtime.PresenceService),
    ("Voicemail", voicemail.NAMESPACE, voicemail.VoicemailService),
    ("Rating", rating.NAMESPACE, rating.RatingService),
]

# Un-namespaced operation names some clients send -> (port name, operation).
# CDRTool's import code calls a non-existent updateCustomer.
ALIASES = {"updateCustomer": ("Customer", "updateAccount")}
