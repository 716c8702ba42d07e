"""Every error the server can answer with, and the one exception type that carries them.

NGNPro clients (CDRTool above all) show ``faultstring (errorcode): errorstring`` and act on a
few codes, so each code has one meaning forever. The table below is the single source: the
table in docs/errors.md is generated from it (``ngnserver errorcodes``) and a test keeps the two equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Side(enum.Enum):
    """Whose fault it is, as SOAP 1.1 names it."""

    CLIENT = "Client"
    SERVER = "Server"


@dataclass(frozen=True)
class ErrorCode:
    code: int
    faultstring: str
    meaning: str
    side: Side = Side.CLIENT


class E:
    """The error code table. Blocks: 1xxx SIP (1151-1199 prepaid balances and vouchers),
    2xxx request, 3xxx ENUM, 4xxx authentication and authorization, 5xxx customers, 6xxx
    credits, 7xxx DNS, 8xxx DSL, 9xxx server, 10xxx dedicated servers and colocation, 11xxx
    syncs, 12001-12049 voicemail, 12051-12099 rating, 13xxx runtime data. 1010 (no voicemail
    account) keeps the code CDRTool's pages take for "this account has no mailbox"."""

    SIP_DOMAIN_EXISTS = ErrorCode(1001, "Duplicate domain", "SIP domain already exists")
    SIP_DOMAIN_NOT_FOUND = ErrorCode(
        1002, "Domain not found", "SIP domain does not exist (or is outside the caller's scope)"
    )
    SIP_DOMAIN_NOT_EMPTY = ErrorCode(
        1003, "Domain not empty", "the SIP domain still has accounts or aliases; delete them first"
    )
    VOICEMAIL_NOT_FOUND = ErrorCode(
        1010, "Voicemail account not found",
        "the SIP account has no voicemail account (or is outside the caller's scope); CDRTool shows no mailbox",
    )
    SIP_ACCOUNT_EXISTS = ErrorCode(1011, "Duplicate account", "SIP account already exists")
    SIP_ACCOUNT_NOT_FOUND = ErrorCode(
        1012, "Account not found", "SIP account does not exist (or is outside the caller's scope)"
    )
    SIP_ALIAS_EXISTS = ErrorCode(1021, "Duplicate alias", "SIP alias already exists")
    SIP_ALIAS_NOT_FOUND = ErrorCode(
        1022, "Alias not found", "SIP alias does not exist (or is outside the caller's scope)"
    )
    SIP_NOT_IN_GROUP = ErrorCode(
        1031, "Not in group", "the SIP account is not in that group (CDRTool treats it as success)"
    )
    SIP_RIGHT_MISSING = ErrorCode(
        1041, "Permission denied", "the reseller lacks pstn_access, pstn_changes or prepaid_changes"
    )

    PSTN_CARRIER_EXISTS = ErrorCode(1051, "Duplicate carrier", "the reseller already has a PSTN carrier of that name")
    PSTN_CARRIER_NOT_FOUND = ErrorCode(
        1052, "Carrier not found", "PSTN carrier does not exist (or is outside the caller's scope)"
    )
    PSTN_CARRIER_IN_USE = ErrorCode(
        1053, "Carrier in use", "the PSTN carrier still has gateways or routes; delete them first"
    )
    PSTN_GATEWAY_EXISTS = ErrorCode(1061, "Duplicate gateway", "the carrier already has a gateway of that name")
    PSTN_GATEWAY_NOT_FOUND = ErrorCode(
        1062, "Gateway not found", "PSTN gateway does not exist (or is outside the caller's scope)"
    )
    PSTN_GATEWAY_IN_USE = ErrorCode(
        1063, "Gateway in use", "the PSTN gateway still has rules; delete them first"
    )
    PSTN_RULE_NOT_FOUND = ErrorCode(
        1071, "Rule not found", "gateway rule does not exist (or is outside the caller's scope)"
    )
    PSTN_ROUTE_NOT_FOUND = ErrorCode(
        1081, "Route not found", "PSTN route does not exist (or is outside the caller's scope)"
    )
    TRUSTED_PEER_EXISTS = ErrorCode(1091, "Duplicate peer", "a trusted peer with that address already exists")
    TRUSTED_PEER_NOT_FOUND = ErrorCode(
        1092, "Peer not found", "trusted peer does not exist (or is outside the caller's scope)"
    )

    SIP_DIVERSION_INVALID = ErrorCode(
        1101, "Invalid diversion",
        "a call diversion names an unknown condition, or its target is not a SIP address, a number or the voicemail keyword",
    )
    SIP_ACCEPT_RULE_INVALID = ErrorCode(
        1102, "Invalid accept rule", "an accept rule has bad days, start or stop time, groups or duration"
    )
    SIP_REJECT_MEMBER_INVALID = ErrorCode(1103, "Invalid reject member", "a reject member is not a SIP address")
    SIP_BARRING_PREFIX_INVALID = ErrorCode(
        1104, "Invalid barring prefix", "a barring prefix is not + followed by digits (+31900)"
    )
    SIP_SETTINGS_TOO_MANY = ErrorCode(
        1105, "Too many entries",
        "more accept rules, groups, reject members, barring prefixes or phonebook entries than an account may hold",
    )
    SIP_PHONEBOOK_ENTRY_INVALID = ErrorCode(
        1106, "Invalid phonebook entry", "a phonebook entry's uri is not a SIP address, or its name or group is bad"
    )
    SIP_PHONEBOOK_ENTRY_EXISTS = ErrorCode(
        1107, "Duplicate phonebook entry", "the account's phonebook already has an entry with that uri"
    )
    SIP_PHONEBOOK_ENTRY_NOT_FOUND = ErrorCode(
        1108, "Phonebook entry not found", "the account's phonebook has no entry with that uri"
    )
    SIP_NOT_PREPAID = ErrorCode(1151, "Not prepaid", "the SIP account is not prepaid, so it has no balance")
    BALANCE_INSUFFICIENT = ErrorCode(
        1152, "Insufficient balance", "the change would take the prepaid balance below 0"
    )
    BALANCE_LIMIT = ErrorCode(1153, "Balance limit", "the change would take the prepaid balance above its maximum")
    VOUCHER_NOT_FOUND = ErrorCode(
        1161, "Voucher not found", "no voucher of the account's reseller has that id and number"
    )
    VOUCHER_USED = ErrorCode(1162, "Voucher used", "the voucher was already redeemed (a voucher is used once)")

    MALFORMED_REQUEST = ErrorCode(2001, "Malformed request", "the body is not well-formed XML")
    DTD_REFUSED = ErrorCode(
        2002, "Document type refused", "the request carries a DTD or entity declarations"
    )
    REQUEST_TOO_LARGE = ErrorCode(
        2003, "Request too large", "the body is larger than the configured limit"
    )
    NOT_A_SOAP_REQUEST = ErrorCode(
        2004, "Not a SOAP request", "the body is not a SOAP 1.1 envelope with one operation"
    )
    UNKNOWN_OPERATION = ErrorCode(
        2005, "Unknown operation", "no port offers the operation named in the body"
    )
    INVALID_VALUE = ErrorCode(
        2006, "Invalid value", "a parameter or member has a value of the wrong type"
    )
    MISSING_PARAMETER = ErrorCode(
        2007, "Missing parameter", "a required parameter or member was not given"
    )
    INVALID_QUERY = ErrorCode(
        2008, "Invalid query", "orderBy names an unknown attribute or direction, or range is bad"
    )
    NOT_AN_XMLRPC_CALL = ErrorCode(
        2009, "Not an XML-RPC call", "the body sent to the XML-RPC endpoint is not a methodCall"
    )

    ENUM_RANGE_EXISTS = ErrorCode(3001, "Duplicate range", "ENUM range already exists")
    ENUM_NUMBER_NOT_FOUND = ErrorCode(3002, "Number not found", "ENUM number does not exist")
    ENUM_RANGE_NOT_FOUND = ErrorCode(
        3003, "Range not found", "ENUM range does not exist (or is outside the caller's scope)"
    )
    ENUM_RANGE_NOT_EMPTY = ErrorCode(
        3004, "Range not empty", "the ENUM range still has numbers; delete them first"
    )
    ENUM_NUMBER_EXISTS = ErrorCode(3005, "Duplicate number", "ENUM number already exists")
    ENUM_NO_RANGE = ErrorCode(
        3006, "No range", "no ENUM range in the tld has a prefix of the number (in the caller's scope)"
    )
    ENUM_NUMBER_LENGTH = ErrorCode(
        3007, "Invalid number", "the number is not digits or its length is outside the range's limits"
    )
    ENUM_INVALID_MAPPING = ErrorCode(
        3008, "Invalid mapping", "a mapping has no type or target, or a bad ttl or priority"
    )
    ENUM_RANGE_FULL = ErrorCode(3009, "Range full", "the ENUM range already holds its size of numbers")
    ENUM_RANGE_OVERLAP = ErrorCode(
        3010, "Overlapping range", "the ENUM range overlaps a range held by another reseller"
    )

    AUTH_MISSING = ErrorCode(4001, "Authentication required", "the auth header is missing")
    AUTH_FAILED = ErrorCode(4002, "Authentication failed", "wrong username or password")
    IMPERSONATE_UNKNOWN = ErrorCode(
        4003, "Authentication failed", "the customer to impersonate does not exist"
    )
    PERMISSION_DENIED = ErrorCode(
        4004, "Permission denied", "the caller may not perform this operation"
    )
    ADMIN_ONLY_FIELD = ErrorCode(
        4005, "Permission denied", "a field only admin may change was changed"
    )
    PROPERTY_PERMISSION = ErrorCode(
        4006, "Permission denied", "a property the caller may not change was sent"
    )
    RESELLER_INACTIVE = ErrorCode(
        4007, "Reseller inactive", "the caller's reseller is not active (resellerActive false)"
    )
    LOGIN_BLOCKED = ErrorCode(
        4008, "Authentication failed", "too many failed logins for the username or address; try again later"
    )

    CUSTOMER_USERNAME_EXISTS = ErrorCode(
        5001, "Duplicate username", "customer username already exists"
    )
    CUSTOMER_NOT_FOUND = ErrorCode(
        5002, "Customer not found", "customer does not exist (or is outside the caller's scope)"
    )
    CUSTOMER_USERNAME_REQUIRED = ErrorCode(
        5003, "Username required", "a customer needs a non-empty username"
    )
    RESELLER_NOT_FOUND = ErrorCode(5004, "Reseller not found", "the named reseller does not exist")
    CUSTOMER_IN_USE = ErrorCode(
        5005, "Customer in use", "the customer still owns records or customers; delete them first"
    )
    INVALID_IMPERSONATE = ErrorCode(
        5006, "Invalid impersonate", "impersonate must be 0 or the customer's own reseller id"
    )
    INVALID_PROPERTY = ErrorCode(
        5007, "Invalid property", "a property has no name, a bad permission or a bad value"
    )
    INVALID_RESELLER_CHANGE = ErrorCode(
        5008, "Invalid reseller change", "a customer with records, or a reseller with customers, cannot move"
    )
    INVALID_OWNER = ErrorCode(
        5009, "Invalid owner", "the owner is not a customer of the record's reseller"
    )

    CREDIT_EXHAUSTED = ErrorCode(6001, "Credit exhausted", "a reseller or customer credit is used up")

    DNS_ZONE_EXISTS = ErrorCode(7001, "Duplicate zone", "DNS zone already exists")
    DNS_ZONE_NOT_FOUND = ErrorCode(
        7002, "Zone not found", "DNS zone does not exist (or is outside the caller's scope)"
    )
    DNS_RECORD_EXISTS = ErrorCode(7003, "Duplicate record", "DNS record already exists")
    DNS_RECORD_NOT_FOUND = ErrorCode(
        7004, "Record not found", "DNS record does not exist (or is outside the caller's scope)"
    )
    DNS_ZONE_NOT_EMPTY = ErrorCode(7005, "Zone not empty", "the DNS zone still has records; delete them first")
    DNS_INVALID_RECORD = ErrorCode(
        7006, "Invalid record", "the record's type, value, priority or ttl is not valid"
    )
    DNS_CNAME_CONFLICT = ErrorCode(
        7007, "CNAME conflict", "a CNAME cannot stand beside other data of the same name"
    )
    DNS_NAME_OUTSIDE_ZONE = ErrorCode(7008, "Name outside zone", "the record's name is not inside its zone")
    DNS_INVALID_ZONE = ErrorCode(
        7009, "Invalid zone", "the zone's name, SOA values, e-mail or name servers are not valid"
    )
    DNS_ZONE_OVERLAP = ErrorCode(
        7010, "Overlapping zone", "the DNS zone lies inside or above a zone held by another reseller"
    )

    DSL_PACKAGE_NOT_FOUND = ErrorCode(8001, "Package not found", "the DSL package does not exist")
    DSL_PACKAGE_EXISTS = ErrorCode(
        8002, "Duplicate package", "a DSL package with that name or vendor package id exists"
    )
    DSL_PACKAGE_IN_USE = ErrorCode(8003, "Package in use", "DSL services still use the package")
    DSL_QUALIFICATION_NOT_FOUND = ErrorCode(
        8004, "Qualification not found", "the qualification does not exist (or is outside the caller's scope)"
    )
    DSL_NOT_QUALIFIED = ErrorCode(
        8005, "Not qualified", "the address did not qualify, or not for the package asked for"
    )
    DSL_SERVICE_NOT_FOUND = ErrorCode(
        8006, "Service not found", "the DSL service does not exist (or is outside the caller's scope)"
    )
    DSL_INVALID_SERVICE = ErrorCode(8007, "Invalid service", "a DSL service field is missing or invalid")
    DSL_IMPORT_MODE = ErrorCode(
        8008, "Invalid operation", "Invalid operation - Import Mode is enabled"
    )
    DSL_INVALID_STATE = ErrorCode(
        8009, "Invalid state", "the operation is not possible in the service's current order state"
    )
    DSL_NOT_CONFIGURED = ErrorCode(8010, "DSL not configured", "no DSL vendor account is configured", Side.SERVER)

    SERVER_PACKAGE_NOT_FOUND = ErrorCode(10001, "Package not found", "the server package does not exist")
    SERVER_PACKAGE_EXISTS = ErrorCode(10002, "Duplicate package", "a server package with that name exists")
    SERVER_PACKAGE_IN_USE = ErrorCode(10003, "Package in use", "servers still use the package")
    SERVER_INVALID_PACKAGE = ErrorCode(
        10004, "Invalid package", "a server package field is missing or invalid (kind, template, IP counts)"
    )
    SERVER_NOT_FOUND = ErrorCode(
        10005, "Server not found", "the server does not exist (or is outside the caller's scope)"
    )
    SERVER_INVALID = ErrorCode(10006, "Invalid server", "a server field is missing or invalid")
    SERVER_INVALID_STATE = ErrorCode(
        10007, "Invalid state", "the operation is not possible in the server's state, or work on it is in progress"
    )
    SERVER_IP_NOT_FOUND = ErrorCode(10008, "IP not found", "the server has no such extra address")
    SERVERS_NOT_CONFIGURED = ErrorCode(
        10010, "Servers not configured", "no DCImanager account is configured (NGNSERVER_DCIM_URL)", Side.SERVER
    )

    SYNC_NOT_FOUND = ErrorCode(11001, "Sync not found", "there is no sync of that name (ixc-bqn is one)")
    SYNC_NOT_CONFIGURED = ErrorCode(
        11002, "Sync not configured", "the sync's systems are not configured on this server (NGNSERVER_IXC_URL...)",
        Side.SERVER,
    )

    NO_RUNTIME_DATA = ErrorCode(
        13001, "No runtime data",
        "this server provisions; SIP and media traces, media sessions and presence are held by the "
        "proxy, the media relay or the presence server",
    )

    VOICEMAIL_EXISTS = ErrorCode(12001, "Duplicate voicemail account", "the SIP account already has a voicemail account")
    VOICEMAIL_INVALID_ANNOUNCEMENT = ErrorCode(
        12002, "Invalid announcement", "the announcement is not base64 or is larger than the limit"
    )

    RATING_ENTITY_NOT_FOUND = ErrorCode(
        12051, "Entity not found",
        "the rating entity names a SIP account, domain or customer that does not exist (or is outside the caller's scope)",
    )
    RATING_PROFILES_NOT_FOUND = ErrorCode(12052, "Profiles not found", "the entity has no rating profiles to delete")

    INTERNAL_ERROR = ErrorCode(
        9001, "Internal server error", "an unexpected server fault (logged)", Side.SERVER
    )
    DATABASE_UNAVAILABLE = ErrorCode(
        9002, "Database unavailable", "the database did not answer in time, or is busy; try again", Side.SERVER
    )
    DATABASE_CANNOT_STORE = ErrorCode(
        9003, "Database cannot store", "the database refuses writes (read-only, disk full); the operator must act",
        Side.SERVER,
    )


def all_codes() -> list[ErrorCode]:
    """The table, ordered by code."""
    codes = [v for v in vars(E).values() if isinstance(v, ErrorCode)]
    return sorted(codes, key=lambda c: c.code)


class NGNError(Exception):
    """A refusal or failure with an errorcode and a sentence a person understands."""

    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message

    @property
    def code(self) -> int:
        return self.error.code

    def __repr__(self) -> str:
        return f"NGNError({self.error.code}, {self.message!r})"
