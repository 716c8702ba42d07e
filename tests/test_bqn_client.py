"""The Bequant BQN REST client against the BQN simulator over real HTTP: policies,
subscribers and subscriber groups are listed, created or replaced, updated and deleted under
URL-encoded ids (IPv6 addresses and names with ``/`` included), the BQN's own fields come back
on reads, failures are retried a bounded number of times, concurrent callers share a bounded
pool of kept-alive connections, and the password never reaches a log."""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ngnserver.vendors.bqn import (
    GROUPS,
    POLICIES,
    SUBSCRIBERS,
    BqnAuthError,
    BqnClient,
    BqnError,
    BqnNotFound,
    BqnProtocolError,
    BqnRefused,
    BqnTransientError,
)
from tests.support.bqn_simulator import API_PATH, BURST_EXTRAS, BqnSimulator

PLAN = {
    "policyId": "1",
    "rateLimitDownlink": {"rate": 100000},
    "rateLimitUplink": {"rate": 50000},
}
IPV6 = "2001:db8:0:1::1"


@pytest.fixture
def bqn() -> Iterator[BqnSimulator]:
    with BqnSimulator() as simulator:
        yield simulator


@pytest.fixture
def client(bqn: BqnSimulator) -> Iterator[BqnClient]:
    with _client(bqn) as client:
        yield client


def _client(bqn: BqnSimulator, **options: object) -> BqnClient:
    settings: dict[str, object] = {
        "retries": 2,
        "backoff": 0.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    settings.update(options)
    return BqnClient(bqn.url, bqn.user, bqn.password, **settings)  # type: ignore[arg-type]


def with_plan(client: BqnClient, name: str = "Plano_100M") -> None:
    client.create_or_update(POLICIES, name, PLAN)


# policies


def test_a_policy_is_created_then_replaced_by_post(client: BqnClient, bqn: BqnSimulator) -> None:
    assert client.create_or_update(POLICIES, "Plano_100M", PLAN) is True
    assert client.create_or_update(POLICIES, "Plano_100M", {**PLAN, "policyId": "7"}) is False

    assert bqn.policies["Plano_100M"] == {**PLAN, "policyId": "7", "policyName": "Plano_100M"}
    assert bqn.count("POST policies/rate") == 2
    assert bqn.calls[0].body == {**PLAN, "policyName": "Plano_100M"}
    assert bqn.calls[0].headers["content-type"] == "application/json; charset=utf-8"


def test_a_post_resets_the_fields_it_does_not_send(client: BqnClient, bqn: BqnSimulator) -> None:
    client.create_or_update(POLICIES, "Plano_100M", PLAN)
    client.create_or_update(POLICIES, "Plano_100M", {"rateLimitDownlink": {"rate": 1}})

    assert bqn.policies["Plano_100M"] == {
        "policyName": "Plano_100M",
        "rateLimitDownlink": {"rate": 1},
    }


def test_policies_are_listed_with_the_fields_the_bqn_adds(client: BqnClient) -> None:
    with_plan(client)

    [policy] = client.list(POLICIES)

    assert policy == {
        "policyName": "Plano_100M",
        "policyId": "1",
        "rateLimitDownlink": {"rate": 100000, "congestionMgmt": True},
        "rateLimitUplink": {"rate": 50000, "congestionMgmt": True},
    }
    assert client.get(POLICIES, "Plano_100M") == policy


def test_the_simulator_can_show_the_burst_fields_of_real_bqns() -> None:
    with BqnSimulator(rate_extras={**BURST_EXTRAS, "congestionMgmt": False}) as bqn:
        client = _client(bqn)
        with_plan(client)

        [policy] = client.list(POLICIES)

    assert policy["rateLimitUplink"] == {**BURST_EXTRAS, "congestionMgmt": False, "rate": 50000}


def test_a_post_of_a_static_policy_is_accepted_and_ignored(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    bqn.add_static_policy("Default", 1000, 1000)

    client.create_or_update(POLICIES, "Default", PLAN)

    assert client.get(POLICIES, "Default")["rateLimitDownlink"]["rate"] == 1000  # type: ignore[index]


def test_a_policy_with_a_malformed_rate_is_refused(client: BqnClient, bqn: BqnSimulator) -> None:
    with pytest.raises(BqnRefused, match="integer rate") as refused:
        client.create_or_update(POLICIES, "Bad", {"rateLimitDownlink": {"rate": "100M"}})

    assert refused.value.status == 400
    assert not isinstance(refused.value, BqnTransientError)
    assert bqn.count() == 1
    assert bqn.policies == {}


def test_put_replaces_an_existing_policy_and_a_missing_one_is_not_found(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with_plan(client)

    client.update(POLICIES, "Plano_100M", {**PLAN, "rateLimitUplink": {"rate": 60000}})
    assert bqn.policies["Plano_100M"]["rateLimitUplink"] == {"rate": 60000}
    assert bqn.calls[-1].method == "PUT"

    with pytest.raises(BqnNotFound) as missing:
        client.update(POLICIES, "Plano_200M", PLAN)
    assert missing.value.status == 404
    assert "Plano_200M" not in bqn.policies


def test_delete_removes_a_policy_and_a_missing_one_is_not_found(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with_plan(client)

    client.delete(POLICIES, "Plano_100M")

    assert client.get(POLICIES, "Plano_100M") is None
    assert client.list(POLICIES) == []
    with pytest.raises(BqnNotFound):
        client.delete(POLICIES, "Plano_100M")


# subscribers


def test_subscribers_by_ipv4_and_ipv6_address_round_trip(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with_plan(client)

    assert client.create_or_update(
        SUBSCRIBERS, "100.64.0.1", {"subscriberId": "ana", "policyRate": "Plano_100M"}
    )
    assert client.create_or_update(
        SUBSCRIBERS, IPV6, {"subscriberId": "ana", "policyRate": "Plano_100M"}
    )

    assert [call.raw_path for call in bqn.calls[1:]] == [
        "subscribers/100.64.0.1",
        "subscribers/2001%3Adb8%3A0%3A1%3A%3A1",
    ]
    assert sorted(bqn.subscribers) == ["100.64.0.1", IPV6]
    assert client.get(SUBSCRIBERS, IPV6)["subscriberIp"] == IPV6  # type: ignore[index]
    client.update(SUBSCRIBERS, IPV6, {"subscriberId": "ana-v6", "policyRate": "Plano_100M"})
    assert bqn.subscribers[IPV6]["subscriberId"] == "ana-v6"
    client.delete(SUBSCRIBERS, IPV6)
    assert bqn.calls[-1].raw_path == "subscribers/2001%3Adb8%3A0%3A1%3A%3A1"
    assert list(bqn.subscribers) == ["100.64.0.1"]


def test_subscribers_are_listed_with_who_assigned_their_policy(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with_plan(client)
    client.create_or_update(
        SUBSCRIBERS, "100.64.0.1", {"subscriberId": "ana", "policyRate": "Plano_100M"}
    )
    client.create_or_update(SUBSCRIBERS, "100.64.0.2", {"subscriberId": "bruno", "policyRate": ""})
    bqn.add_rules_subscriber("100.64.0.9")

    listed = {item["subscriberIp"]: item for item in client.list(SUBSCRIBERS)}

    assert listed["100.64.0.1"] == {
        "subscriberIp": "100.64.0.1",
        "subscriberId": "ana",
        "policyRate": "Plano_100M",
        "policyAssignedBy": "api",
        "subscriberGroups": ["all-subscribers"],
    }
    assert (listed["100.64.0.2"]["policyAssignedBy"], listed["100.64.0.2"]["policyRate"]) == (
        "rules",
        bqn.rules_policy,
    )
    assert listed["100.64.0.9"]["policyAssignedBy"] == "rules"
    assert "subscriberId" not in listed["100.64.0.9"]


def test_a_subscriber_on_a_policy_that_does_not_exist_is_refused(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with pytest.raises(BqnRefused, match="policy Plano_100M does not exist") as refused:
        client.create_or_update(
            SUBSCRIBERS, "100.64.0.1", {"subscriberId": "ana", "policyRate": "Plano_100M"}
        )

    assert refused.value.status == 400
    assert bqn.count() == 1
    assert bqn.subscribers == {}


def test_a_subscriber_id_that_is_not_an_address_is_refused(client: BqnClient) -> None:
    with pytest.raises(BqnRefused, match="is not an IP address"):
        client.create_or_update(SUBSCRIBERS, "ana", {"subscriberId": "ana"})


def test_a_body_naming_another_object_than_the_path_is_refused(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with pytest.raises(ValueError, match="path names"):
        client.create_or_update(SUBSCRIBERS, "100.64.0.1", {"subscriberIp": "100.64.0.2"})
    with pytest.raises(ValueError, match="needs an id"):
        client.delete(SUBSCRIBERS, "")
    assert bqn.count() == 0


# subscriber groups


def test_a_dual_stack_group_round_trips_and_shows_on_its_member(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    with_plan(client)
    client.create_or_update(SUBSCRIBERS, "100.64.0.1", {"subscriberId": "ana"})
    group = {
        "policyRate": "Plano_100M",
        "subscriberMembers": ["100.64.0.1"],
        "subscriberRanges": ["2001:db8:1::/56"],
    }

    assert client.create_or_update(GROUPS, "DS-ana", group) is True

    shown = client.get(GROUPS, "DS-ana")
    assert shown == {**group, "subscriberGroupName": "DS-ana", "subscriberGroupType": "generic"}
    assert client.get(SUBSCRIBERS, "100.64.0.1")["subscriberGroups"] == [  # type: ignore[index]
        "all-subscribers",
        "DS-ana",
    ]


def test_a_group_name_with_a_slash_and_a_space_is_encoded_whole(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    client.create_or_update(GROUPS, "DS-a/b c", {"subscriberMembers": ["100.64.0.1"]})

    assert bqn.calls[-1].raw_path == "subscriberGroups/DS-a%2Fb%20c"
    assert "DS-a/b c" in bqn.groups
    assert client.get(GROUPS, "DS-a/b c")["subscriberRanges"] == []  # type: ignore[index]
    client.delete(GROUPS, "DS-a/b c")
    assert "DS-a/b c" not in bqn.groups


def test_groups_are_listed_with_the_bqns_own_all_subscribers(client: BqnClient) -> None:
    client.create_or_update(GROUPS, "DS-ana", {"subscriberMembers": ["100.64.0.1"]})

    names = {group["subscriberGroupName"]: group for group in client.list(GROUPS)}

    assert names["all-subscribers"]["subscriberGroupType"] == "all-subscribers"
    assert names["DS-ana"]["subscriberGroupType"] == "generic"


def test_all_subscribers_is_never_deleted(client: BqnClient, bqn: BqnSimulator) -> None:
    with pytest.raises(ValueError, match="never deleted"):
        client.delete(GROUPS, "all-subscribers")
    assert bqn.count() == 0
    reply = requests.delete(
        f"{bqn.url}{API_PATH}/subscriberGroups/all-subscribers",
        auth=(bqn.user, bqn.password),
        timeout=5,
    )
    assert reply.status_code == 400
    assert "all-subscribers" in bqn.groups


def test_a_group_with_a_member_that_is_not_an_address_is_refused(client: BqnClient) -> None:
    with pytest.raises(BqnRefused, match="subscriberMembers"):
        client.create_or_update(GROUPS, "DS-x", {"subscriberMembers": ["ana"]})
    with pytest.raises(BqnRefused, match="subscriberRanges"):
        client.create_or_update(GROUPS, "DS-x", {"subscriberRanges": ["2001:db8::/999"]})


# retries, timeouts, protocol errors


def test_5xx_answers_are_retried_until_one_succeeds(client: BqnClient, bqn: BqnSimulator) -> None:
    bqn.fail("status:503", times=2)

    assert client.list(SUBSCRIBERS) == []
    assert bqn.count("GET subscribers") == 3


def test_a_call_that_keeps_failing_raises_after_the_bounded_retries(
    client: BqnClient, bqn: BqnSimulator
) -> None:
    bqn.fail("status:500", times=None)

    with pytest.raises(BqnTransientError, match=r"HTTP 500 .* 3 tries"):
        client.create_or_update(POLICIES, "Plano_100M", PLAN)
    assert bqn.count("POST policies/rate") == 3
    assert bqn.policies == {}


def test_a_slow_answer_times_out_and_is_retried(bqn: BqnSimulator) -> None:
    client = _client(bqn, read_timeout=0.2)
    bqn.fail("hang", times=None)

    started = time.monotonic()
    with pytest.raises(BqnTransientError, match="no answer after the retries"):
        client.list(POLICIES)
    assert bqn.count() == 3
    assert time.monotonic() - started < 3


def test_a_post_whose_answer_was_lost_is_sent_again_and_writes_once(bqn: BqnSimulator) -> None:
    client = _client(bqn, read_timeout=0.3)
    bqn.fail("timeout")

    created = client.create_or_update(POLICIES, "Plano_100M", PLAN)

    assert created is False  # the second attempt found what the first created
    assert bqn.count("POST policies/rate") == 2
    assert list(bqn.policies) == ["Plano_100M"]


def test_a_delete_whose_answer_was_lost_counts_as_done(bqn: BqnSimulator) -> None:
    client = _client(bqn, read_timeout=0.3)
    with_plan(client)
    bqn.fail("timeout", where=lambda request: request.method == "DELETE")

    client.delete(POLICIES, "Plano_100M")

    assert bqn.count("DELETE policies/rate") == 2
    assert bqn.policies == {}


def test_a_dropped_connection_is_retried(client: BqnClient, bqn: BqnSimulator) -> None:
    bqn.fail("drop")

    with_plan(client)

    assert bqn.count("POST policies/rate") == 2
    assert list(bqn.policies) == ["Plano_100M"]


def test_a_bqn_that_cannot_be_reached_is_transient() -> None:
    with BqnSimulator() as gone:
        url, user, password = gone.url, gone.user, gone.password

    with pytest.raises(BqnTransientError, match="Max retries exceeded"):
        BqnClient(url, user, password, retries=1, backoff=0.0).list(POLICIES)


@pytest.mark.parametrize(
    ("kind", "match"),
    [("not_json", "not JSON"), ('body:{"rows": []}', "no list of items"), ("body:[]", "items")],
)
def test_a_listing_that_is_not_a_list_of_items_is_a_protocol_error(
    client: BqnClient, bqn: BqnSimulator, kind: str, match: str
) -> None:
    bqn.fail(kind)

    with pytest.raises(BqnProtocolError, match=match) as error:
        client.list(SUBSCRIBERS)
    assert isinstance(error.value, BqnTransientError)


def test_a_wrong_password_is_an_auth_error_not_retried(bqn: BqnSimulator) -> None:
    client = BqnClient(bqn.url, bqn.user, "wrong", retries=3, backoff=0.0)

    with pytest.raises(BqnAuthError, match="HTTP 401: Unauthorized") as error:
        client.list(POLICIES)
    assert error.value.status == 401
    assert bqn.count() == 1


# connections and concurrency


def test_calls_reuse_one_kept_alive_connection(client: BqnClient, bqn: BqnSimulator) -> None:
    with_plan(client)
    for index in range(20):
        client.create_or_update(SUBSCRIBERS, f"100.64.0.{index + 1}", {"subscriberId": "x"})
    client.list(SUBSCRIBERS)

    assert bqn.count() == 22
    assert bqn.connections == 1


def _write_many(client: BqnClient, threads: int, count: int) -> None:
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(
            pool.map(
                lambda index: client.create_or_update(
                    SUBSCRIBERS, f"100.64.1.{index}", {"subscriberId": f"s{index}"}
                ),
                range(count),
            )
        )


def test_concurrent_callers_share_a_bounded_pool_of_connections(bqn: BqnSimulator) -> None:
    bqn.latency = 0.02
    _write_many(_client(bqn, pool_size=1), threads=8, count=48)
    assert bqn.connections == 1 and bqn.most_waiting == 1  # one call at a time

    bqn.connections = bqn.most_waiting = 0
    _write_many(_client(bqn, pool_size=8), threads=16, count=48)

    # calls overlap, never more than the pool's connections (a count, not a timing)
    assert 1 < bqn.connections <= 8
    assert 1 < bqn.most_waiting <= 8
    assert len(bqn.subscribers) == 48


def test_one_client_is_safe_to_share_between_threads(bqn: BqnSimulator) -> None:
    client = _client(bqn, pool_size=4)
    with_plan(client)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for index in range(25):
                ip = f"100.65.{offset}.{index}"
                client.create_or_update(SUBSCRIBERS, ip, {"policyRate": "Plano_100M"})
                client.update(SUBSCRIBERS, ip, {"subscriberId": f"{offset}-{index}"})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(offset,)) for offset in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    assert len(bqn.subscribers) == 150
    assert bqn.subscribers["100.65.5.24"] == {"subscriberIp": "100.65.5.24", "subscriberId": "5-24"}


# URL, TLS, secrets


def test_the_url_gets_the_bqn_port_and_api_path() -> None:
    assert BqnClient("https://192.0.2.10", "u", "p").url == "https://192.0.2.10:3443/api/v1"
    assert BqnClient("https://bqn.example:8443/", "u", "p").url == (
        "https://bqn.example:8443/api/v1"
    )
    assert BqnClient("https://[2001:db8::10]/api/v1", "u", "p").url == (
        "https://[2001:db8::10]:3443/api/v1"
    )
    with pytest.raises(ValueError, match="credentials"):
        BqnClient("https://u:p@192.0.2.10", "u", "p")
    with pytest.raises(ValueError, match="user"):
        BqnClient("https://192.0.2.10", "", "p")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_self_signed_certificate_needs_verify_off_or_pinned() -> None:
    with BqnSimulator(tls=True) as bqn:
        strict = BqnClient(bqn.url, bqn.user, bqn.password, retries=2, backoff=0.0)
        with pytest.raises(BqnError, match="TLS") as error:
            strict.list(POLICIES)
        assert not isinstance(error.value, BqnTransientError)
        assert bqn.count() == 0

        assert BqnClient(bqn.url, bqn.user, bqn.password, verify=False).list(POLICIES) == []
        pinned = BqnClient(bqn.url, bqn.user, bqn.password, verify=str(bqn.certificate_path))
        assert pinned.list(GROUPS)[0]["subscriberGroupName"] == "all-subscribers"


def test_no_log_and_no_error_shows_the_password(
    bqn: BqnSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    debug_log = logging.getLogger(f"tests.bqn.{uuid.uuid4().hex}")
    debug_log.setLevel(logging.DEBUG)
    client = _client(bqn, debug_log=debug_log)
    errors: list[str] = []

    with caplog.at_level(logging.DEBUG):
        with_plan(client)
        client.create_or_update(SUBSCRIBERS, IPV6, {"subscriberId": "ana"})
        client.list(SUBSCRIBERS)
        bqn.fail("status:503", times=None)
        for failing in (
            lambda: client.delete(SUBSCRIBERS, IPV6),
            lambda: BqnClient(bqn.url, bqn.user, "wrong-Pw", retries=0).list(POLICIES),
        ):
            with pytest.raises(BqnError) as error:
                failing()
            errors.append(str(error.value))

    log = caplog.text + "\n".join(errors) + repr(client)
    assert "BQN list subscribers: 1 items" in log
    assert "retrying" in log
    encoded = base64.b64encode(f"{bqn.user}:{bqn.password}".encode()).decode()
    for secret in (bqn.password, encoded):
        assert secret not in log
