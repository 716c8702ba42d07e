"""A five-minute tour of ngnserver with zeep, from the served WSDL: as admin, create a
reseller with credits, a customer of it, a SIP domain of the customer and a SIP account in
it; then log in as the reseller and list what it sees.

    .venv/bin/python examples/tour.py [URL] [ADMIN_USERNAME] [ADMIN_PASSWORD]

URL defaults to http://127.0.0.1:9200/ngnpro/ (what ``./dev serve`` runs); the admin login
to the one in var/admin-credentials. Run it against a fresh database: the names it creates
must be free.
"""

import sys
from pathlib import Path

import zeep


def client(url: str, username: str, password: str, admin: bool) -> zeep.Client:
    """A zeep client whose every call carries this login's auth header."""
    c = zeep.Client(url + "wsdl")
    c.set_default_soapheaders({"auth": {"username": username, "password": password, "admin": admin}})
    return c


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9200/ngnpro/"
    if len(sys.argv) > 3:
        username, password = sys.argv[2], sys.argv[3]
    else:  # the login ./dev serve made on its first start
        username, _, password = Path("var/admin-credentials").read_text().strip().partition(":")

    admin = client(url, username, password, admin=True)
    customers = admin.bind("NGNPro", "CustomerPort")
    sip = admin.bind("NGNPro", "SipPort")

    # a reseller (an account without a reseller of its own), with credits for SIP
    reseller = customers.addAccount(account={
        "username": "tour-reseller", "password": "reseller-pw", "firstName": "Tour", "lastName": "Reseller",
        "properties": [{"name": "sip_credit", "value": "10"}],
    })
    print(f"reseller {reseller.id} ({reseller.username}), active: {reseller.resellerActive}")

    # a customer of that reseller
    customer = customers.addAccount(account={
        "username": "tour-customer", "password": "customer-pw", "reseller": reseller.id,
        "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com",
    })
    print(f"customer {customer.id} ({customer.username}) under reseller {customer.reseller}")

    # a SIP domain of the customer, and an account in it (counted against the reseller's credit)
    sip.addDomain(domain={"domain": "tour.example.com", "customer": customer.id})
    account = sip.addAccount(account={
        "id": {"username": "ann", "domain": "tour.example.com"}, "password": "sip-pw",
        "firstName": "Ann", "lastName": "Lee", "groups": ["voicemail"],
    })
    print(f"SIP account {account.id.username}@{account.id.domain} of customer {account.customer}")

    # the reseller's own login sees its customer and the account, nothing of anyone else's
    as_reseller = client(url, "tour-reseller", "reseller-pw", admin=False)
    listed = as_reseller.bind("NGNPro", "CustomerPort").getCustomers(query={})
    print(f"the reseller sees {listed.total} customers:", ", ".join(a.username for a in listed.accounts))
    accounts = as_reseller.bind("NGNPro", "SipPort").getAccounts(query={"filter": {"domain": "tour.example.com"}})
    print(f"and {accounts.total} SIP account:", ", ".join(f"{a.id.username}@{a.id.domain}" for a in accounts.accounts))


if __name__ == "__main__":
    main()
