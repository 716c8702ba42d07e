"""The tour of examples/tour.py over XML-RPC, with nothing but Python's standard library: as
admin, a reseller with credits, a customer of it, a SIP domain and an account; a refusal and
its code; then what the reseller's own login sees, and admin acting as the customer.

    python3 examples/xmlrpc_tour.py [URL] [ADMIN_USERNAME] [ADMIN_PASSWORD]

URL is the SOAP endpoint, http://127.0.0.1:9200/ngnpro/ by default (XML-RPC is at its
``xmlrpc``); the admin login defaults to the one in var/admin-credentials. Run it against a
fresh database: the names it creates must be free.
"""

import sys
import xmlrpc.client
from pathlib import Path
from urllib.parse import quote, urlsplit


def proxy(url: str, username: str, password: str, query: str = "") -> xmlrpc.client.ServerProxy:
    """A proxy whose calls carry this login (Basic credentials in the address)."""
    parts = urlsplit(url)
    login = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return xmlrpc.client.ServerProxy(f"{parts.scheme}://{login}@{parts.netloc}{parts.path}xmlrpc{query}")


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9200/ngnpro/"
    if len(sys.argv) > 3:
        username, password = sys.argv[2], sys.argv[3]
    else:  # the login ./dev serve made on its first start
        username, _, password = Path("var/admin-credentials").read_text().strip().partition(":")
    admin = proxy(url, username, password, "?admin=1")

    reseller = admin.Customer.addAccount({"username": "xr-reseller", "password": "reseller-pw",
                                          "properties": [{"name": "sip_credit", "value": "10"}]})
    print(f"reseller {reseller['id']} ({reseller['username']}), active: {reseller['resellerActive']}")
    customer = admin.Customer.addAccount({"username": "xr-customer", "password": "customer-pw",
                                          "reseller": reseller["id"]})
    print(f"customer {customer['id']} ({customer['username']}) under reseller {customer['reseller']}")

    admin.Sip.addDomain({"domain": "xr.example.com", "customer": customer["id"]})
    account = admin.Sip.addAccount({"id": {"username": "ann", "domain": "xr.example.com"}, "password": "sip-pw",
                                    "groups": ["voicemail"]})
    print(f"SIP account {account['id']['username']}@{account['id']['domain']} of customer {account['customer']}")

    try:
        admin.Sip.addDomain({"domain": "xr.example.com"})
    except xmlrpc.client.Fault as fault:
        print(f"refused with {fault.faultCode}: {fault.faultString}")

    as_reseller = proxy(url, "xr-reseller", "reseller-pw")
    listed = as_reseller.Customer.getCustomers({})
    print(f"the reseller sees {listed['total']} customers:", ", ".join(a["username"] for a in listed["accounts"]))

    as_customer = proxy(url, username, password, f"?admin=1&impersonate={customer['id']}")
    groups = as_customer.Sip.getGroups({"username": "ann", "domain": "xr.example.com"})
    print("admin as the customer reads ann's groups:", ", ".join(groups))


if __name__ == "__main__":
    main()
