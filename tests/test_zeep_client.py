"""A zeep client built only from the WSDL the server serves calls CustomerPort and gets typed
Python values; the checked-in WSDL is the document the code produces."""

from __future__ import annotations

from pathlib import Path

import pytest
import zeep
from zeep.exceptions import Fault

from ngnserver.cli import wsdl_document

ROOT = Path(__file__).parent.parent


def test_checked_in_wsdl_is_what_the_code_serves():
    assert (ROOT / "wsdl" / "ngnpro.wsdl").read_bytes() == wsdl_document("http://127.0.0.1:9200/ngnpro/"), (
        "regenerate with: ngnserver wsdl > wsdl/ngnpro.wsdl"
    )


@pytest.fixture
def customer_port(server):
    client = zeep.Client(server.url + "wsdl")
    client.set_default_soapheaders({"auth": {"username": "admin", "password": "secret", "admin": True}})
    return client.bind("NGNPro", "CustomerPort")


def test_zeep_adds_reads_and_lists_customers_with_typed_values(customer_port):
    created = customer_port.addAccount(
        account={
            "username": "zed",
            "password": "zpw",
            "firstName": "Zed",
            "resellerActive": True,
            "balance": 2.5,
            "properties": [{"name": "sip_credit", "value": "4", "category": "credit", "permission": "admin"}],
        }
    )
    assert isinstance(created.id, int) and created.id == created.reseller
    assert created.resellerActive is True and created.balance == 2.5
    account = customer_port.getAccount(id=created.id)
    assert account.username == "zed" and account.password == "zpw"
    assert [(p.name, p.value) for p in account.properties] == [("sip_credit", "4")]
    customer_port.addAccount(account={"username": "zoe", "reseller": created.id})
    result = customer_port.getCustomers(query={"filter": {"reseller": created.id}, "range": {"start": 0, "count": 10}})
    assert result.total == 2 and isinstance(result.total, int)
    assert sorted(a.username for a in result.accounts) == ["zed", "zoe"]
    props = customer_port.getProperties(customer=created.id)
    assert isinstance(props, list) and props[0].permission == "admin"
    # an empty list changes nothing, and is what zeep sends for a list it dropped: refused
    with pytest.raises(Fault) as info:
        customer_port.setProperties(customer=created.id, properties=[])
    assert "pass properties=[...] by keyword" in info.value.message


def test_zeep_sees_faults_with_their_errorcode(customer_port):
    with pytest.raises(Fault) as info:
        customer_port.getAccount(id=4242)
    assert info.value.message == "Customer not found: Customer 4242 does not exist."
    assert info.value.detail.findtext(".//errorcode") == "5002"
