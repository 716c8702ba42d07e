"""A customer moving to another reseller while a record is created for it: the record ends
under the customer's reseller at commit, or the move is refused because the record is
there (5008). Never a record under the old reseller for a customer under the new one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add

PAIRS = 20


def test_records_created_while_their_customer_moves_stay_under_its_reseller(served):
    deployment, server = served
    admin = Client(server.url, "admin", "secret")
    r1 = add(admin, username="from", resellerActive=True)["id"]
    r2 = add(admin, username="to", resellerActive=True)["id"]
    customers = [add(admin, username=f"mover{n}", reseller=r1)["id"] for n in range(PAIRS)]
    barrier = threading.Barrier(2 * PAIRS)

    def move(n: int) -> int:
        barrier.wait()
        try:
            admin.call("Customer", "updateAccount", account=("CustomerAccount", {"id": customers[n], "reseller": r2}))
            return 0
        except SoapFault as fault:
            return fault.errorcode or -1

    def create(n: int) -> None:
        barrier.wait()
        admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": f"d{n}.moves.example", "customer": customers[n]}))

    with ThreadPoolExecutor(2 * PAIRS) as pool:
        moves = [pool.submit(move, n) for n in range(PAIRS)]
        creations = [pool.submit(create, n) for n in range(PAIRS)]
        outcomes = [m.result() for m in moves]
        for c in creations:
            c.result()  # every creation succeeds, under whichever reseller the customer has
    assert set(outcomes) <= {0, 5008}, outcomes

    rows = deployment.query("SELECT d.domain, d.reseller, c.reseller FROM sip_domains d JOIN customers c ON c.id = d.customer")
    assert len(rows) == PAIRS
    assert [row for row in rows if row[1] != row[2]] == []
    moved = sum(1 for o in outcomes if o == 0)
    assert sum(1 for row in rows if row[2] == r2) == moved
