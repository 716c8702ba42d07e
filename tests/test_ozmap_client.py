"""The OZmap API v2 client against the OZmap simulator over real HTTP: the raw key (no
Bearer) and one login again after a 401, listings filtered in the query string and followed
through ``nextUrl``, cursor scans that keep objects tied on ``updatedAt`` across a page
boundary, 404 as absent, PATCH 204 without ``external_id``, ``batch-update``, properties on
splitter ports and ``properties/client/<code>``, bounded retries, TLS and secrets kept out of
every log."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ngnserver import metrics
from ngnserver.vendors import ozmap
from ngnserver.vendors.ozmap import (
    BOXES,
    BY_UPDATE,
    FTTH_CLIENTS,
    PROPERTIES,
    OzmapAuthError,
    OzmapClient,
    OzmapError,
    OzmapNotFound,
    OzmapProtocolError,
    OzmapRefused,
    OzmapTransientError,
    free_ports,
    where,
)
from tests.support.ozmap_simulator import API_PATH, OzmapSimulator, generate_plant

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
INSTANT = "2026-03-01T10:00:00.000Z"


@pytest.fixture
def sim() -> Iterator[OzmapSimulator]:
    with OzmapSimulator() as simulator:
        yield simulator


@pytest.fixture
def client(sim: OzmapSimulator) -> Iterator[OzmapClient]:
    with _client(sim) as made:
        yield made


def _client(sim: OzmapSimulator, **options: Any) -> OzmapClient:
    settings: dict[str, Any] = {
        "key": sim.key,
        "retries": 2,
        "backoff": 0.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    settings.update(options)
    key = settings.pop("key")
    return OzmapClient(sim.url, key, **settings)


def _plant(sim: OzmapSimulator) -> tuple[str, str, str]:
    """A project, a box in it and the box's 8-port drop splitter."""
    project = sim.add("projects", name="Centro")["id"]
    box = sim.add("boxes", name="CTO-01", project=project, coords=[-49.27, -25.43])["id"]
    splitter = sim.add_splitter(box, outputs=8, name="SPL-1")["id"]
    return project, box, splitter


def _query(call: Any) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(call.query).items()}


# authentication


def test_the_key_is_sent_raw_without_bearer(client: OzmapClient, sim: OzmapSimulator) -> None:
    assert client.authenticated() is True

    assert sim.calls[0].headers["authorization"] == sim.key
    refused = requests.get(
        f"{sim.url}{API_PATH}/authenticated", headers={"Authorization": f"Bearer {sim.key}"}
    )
    assert refused.status_code == 401


def test_with_only_credentials_the_client_logs_in_first(sim: OzmapSimulator) -> None:
    client = _client(sim, key="", user=sim.user, password=sim.password)

    assert client.list(BOXES) == []

    login, listing = sim.calls
    assert login.operation == "POST users/login" and _query(login) == {"type": "API"}
    assert login.body == {"login": sim.user, "password": sim.password}
    assert listing.headers["authorization"] in sim.valid_keys - {sim.key}
    assert client.logins == 1


def test_a_401_logs_in_again_once_and_the_request_succeeds(sim: OzmapSimulator) -> None:
    _plant(sim)
    client = _client(sim, user=sim.user, password=sim.password)
    sim.expire_keys()

    assert [box["name"] for box in client.list(BOXES)] == ["CTO-01"]
    assert [box["name"] for box in client.list(BOXES)] == ["CTO-01"]

    assert sim.count("POST users/login") == 1
    assert sim.count("GET boxes") == 3  # refused, then twice with the new key
    assert client.logins == 1


def test_a_401_that_persists_after_the_login_is_an_auth_error(sim: OzmapSimulator) -> None:
    client = _client(sim, user=sim.user, password=sim.password)
    sim.fail("status:401", times=None, where=lambda request: request.segments != ["users", "login"])

    with pytest.raises(OzmapAuthError) as error:
        client.list(BOXES)

    assert error.value.status == 401
    assert sim.count("POST users/login") == 1
    assert sim.count("GET boxes") == 2


def test_without_credentials_a_401_is_an_auth_error_at_once(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    sim.expire_keys()

    with pytest.raises(OzmapAuthError, match="Unauthorized"):
        client.box("0" * 24)
    assert client.authenticated() is False
    assert sim.count("POST users/login") == 0
    assert sim.count() == 2


def test_a_wrong_password_is_an_auth_error(sim: OzmapSimulator) -> None:
    client = _client(sim, key="", user=sim.user, password="wrong-Pw-1")

    with pytest.raises(OzmapAuthError, match="invalid login"):
        client.list(BOXES)
    assert sim.count() == 1


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="API key, or a user"):
        OzmapClient("https://isp.ozmap.com.br:9994")
    with pytest.raises(ValueError, match="both"):
        OzmapClient("https://isp.ozmap.com.br:9994", "k", user="u")
    with pytest.raises(ValueError, match="credentials"):
        OzmapClient("https://u:p@isp.ozmap.com.br:9994", "k")
    assert OzmapClient("https://isp.ozmap.com.br:9994/", "k").url == (
        "https://isp.ozmap.com.br:9994/api/v2"
    )
    assert OzmapClient("https://isp.ozmap.com.br/api/v2", "k").url == (
        "https://isp.ozmap.com.br/api/v2"
    )


# listings


def test_the_filter_and_sort_go_in_the_query_string(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, _, _ = _plant(sim)
    sim.add("boxes", name="CTO-02", project=project)

    found = client.list(
        BOXES, filter=[where("name", "like", "^CTO-0[2-9]")], sort=(("name", -1),), limit=10
    )

    assert [box["name"] for box in found] == ["CTO-02"]
    [call] = sim.calls
    assert call.method == "GET" and call.body is None
    assert json.loads(_query(call)["filter"]) == [
        {"property": "name", "operator": "like", "value": "^CTO-0[2-9]"}
    ]
    assert json.loads(_query(call)["sort"]) == [{"property": "name", "direction": -1}]
    assert _query(call)["limit"] == "10"


def test_the_simulator_also_takes_the_filter_from_the_get_body(sim: OzmapSimulator) -> None:
    project, _, _ = _plant(sim)
    sim.add("boxes", name="CTO-02", project=project)

    reply = requests.get(
        f"{sim.url}{API_PATH}/boxes",
        headers={"Authorization": sim.key},
        data=json.dumps({"filter": [where("name", "=", "CTO-02")]}),
    ).json()

    assert [row["name"] for row in reply["rows"]] == ["CTO-02"]
    assert reply["hasNextPage"] is False and reply["total"] == 1


def test_pages_are_followed_through_next_url_until_there_is_none(
    sim: OzmapSimulator,
) -> None:
    generate_plant(sim, boxes=250, splitters_per_box=0)
    client = _client(sim, page_size=100)

    names = [box["name"] for box in client.iterate(BOXES, sort=(("name", 1),))]

    assert names == [f"CTO-{n:05d}" for n in range(1, 251)]
    assert sim.count("GET boxes") == 3
    assert [_query(call)["page"] for call in sim.calls] == ["1", "2", "3"]
    assert all("sort" in _query(call) for call in sim.calls)


def test_a_server_that_caps_the_page_size_is_still_read_whole(sim: OzmapSimulator) -> None:
    generate_plant(sim, boxes=120, splitters_per_box=0)
    sim.max_limit = 50
    client = _client(sim, page_size=500)

    page = client.list_page(BOXES)
    assert (page.total, page.limit, len(page.rows), page.has_next_page) == (120, 50, 50, True)
    assert page.next_url is not None and page.next_url.startswith(f"{API_PATH}/boxes?")

    assert len({box["id"] for box in client.iterate(BOXES)}) == 120
    assert sim.count("GET boxes") == 1 + 3


def test_operators_or_groups_and_dotted_properties(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, box, splitter = _plant(sim)
    other = sim.add("boxes", name="CTO-02", project=project, tags=["a", "b"])["id"]
    sim.add("boxes", name="CTO-03", project=project, observation="poste 7")

    def names(*conditions: Any) -> list[str]:
        return sorted(row["name"] for row in client.list(BOXES, filter=list(conditions)))

    assert names(where("id", "in", [box, other])) == ["CTO-01", "CTO-02"]
    assert names(where("id", "notin", [box, other])) == ["CTO-03"]
    assert names(where("observation", "exists", True)) == ["CTO-03"]
    assert names(where("tags", "all", ["a", "b"])) == ["CTO-02"]
    assert names([where("name", "=", "CTO-01"), where("name", "=", "CTO-03")]) == [
        "CTO-01",
        "CTO-03",
    ]
    assert names(where("name", "!=", "CTO-01"), where("project", "=", project)) == [
        "CTO-02",
        "CTO-03",
    ]
    client.create_property(project=project, box=box, port=1, client={"code": "1001", "name": "A"})
    [found] = client.list(PROPERTIES, filter=[where("client.code", "=", "1001")])
    assert found["connections"][0]["id"] == splitter
    with pytest.raises(ValueError, match="operator"):
        where("name", "~", "x")
    with pytest.raises(OzmapRefused, match="near"):
        client.list(BOXES, filter=[where("coords", "near", [0, 0, 10])])


def test_changed_since_reads_from_the_cursor_instant_oldest_first(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, box, _ = _plant(sim)
    sim.touch("boxes", box, "2026-03-01T09:00:00.000Z")
    later = sim.add("boxes", name="CTO-02", project=project)["id"]
    sim.touch("boxes", later, "2026-03-01T11:00:00.000Z")
    at = sim.add("boxes", name="CTO-03", project=project)["id"]
    sim.touch("boxes", at, INSTANT)

    assert [row["id"] for row in client.boxes_changed_since(INSTANT)] == [at, later]
    assert [row["id"] for row in client.boxes_changed_since(None)] == [box, at, later]
    condition = json.loads(_query(sim.calls[0])["filter"])
    assert condition == [{"property": "updatedAt", "operator": ">=", "value": INSTANT}]
    assert json.loads(_query(sim.calls[0])["sort"]) == [
        {"property": "updatedAt", "direction": 1},
        {"property": "id", "direction": 1},
    ]


def test_objects_tied_on_updated_at_across_page_boundaries_are_all_read(
    sim: OzmapSimulator,
) -> None:
    sim.frozen_time = INSTANT
    ids = generate_plant(sim, boxes=9, splitters_per_box=0, projects=1)
    sim.unstable_ties = True
    client = _client(sim, page_size=2)

    for _ in range(5):
        assert sorted(row["id"] for row in client.boxes_changed_since(INSTANT)) == sorted(ids)

    # the simulator's knob is real: sorted by updatedAt alone, tied rows shift between pages
    results = [
        [row["id"] for row in client.iterate(BOXES, sort=(("updatedAt", 1),))] for _ in range(5)
    ]
    assert any(len(set(found)) < len(ids) for found in results)
    assert BY_UPDATE[-1] == ("id", 1)


def test_a_next_url_that_leaves_the_api_or_loops_is_a_protocol_error(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    page = {"total": 3, "count": 1, "start": 0, "limit": 1, "rows": [{"id": "a"}]}
    away = {**page, "hasNextPage": True, "nextUrl": "https://evil.example/api/v2/boxes?page=2"}
    sim.fail(f"body:{json.dumps(away)}")
    with pytest.raises(OzmapProtocolError, match="leaves the API"):
        client.list(BOXES)

    circle = {**page, "hasNextPage": True, "nextUrl": f"{API_PATH}/boxes?page=2"}
    sim.fail(f"body:{json.dumps(circle)}", times=2)
    with pytest.raises(OzmapProtocolError, match="read before"):
        client.list(BOXES)


@pytest.mark.parametrize(
    ("kind", "match"),
    [("not_json", "not JSON"), ('body:{"items": []}', "no rows"), ("body:[]", "no rows")],
)
def test_a_listing_that_is_not_a_listing_is_a_protocol_error(
    client: OzmapClient, sim: OzmapSimulator, kind: str, match: str
) -> None:
    sim.fail(kind)

    with pytest.raises(OzmapProtocolError, match=match) as error:
        client.list(BOXES)
    assert isinstance(error.value, OzmapTransientError)


# reading and writing objects


def test_a_missing_object_is_none_and_a_deleted_one_is_absent_after(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    _, box, _ = _plant(sim)

    assert client.box("f" * 24) is None
    assert client.box(box)["name"] == "CTO-01"  # type: ignore[index]
    assert client.delete(BOXES, box) is True
    assert client.box(box) is None
    assert client.delete(BOXES, box) is False
    assert sim.count("GET boxes/:id") == 3 and sim.count("DELETE boxes/:id") == 2


def test_get_populates_the_fields_asked_for(client: OzmapClient, sim: OzmapSimulator) -> None:
    project, box, _ = _plant(sim)

    assert client.box(box)["project"] == project  # type: ignore[index]
    shown = client.get(BOXES, box, populate="project")
    assert shown["project"]["name"] == "Centro"  # type: ignore[index]
    assert _query(sim.calls[-1]) == {"populate": "project"}
    assert client.project(project)["name"] == "Centro"  # type: ignore[index]


def test_create_answers_the_object_with_an_object_id(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, _, _ = _plant(sim)

    made = client.create(BOXES, {"name": "CTO-09", "project": project, "coords": [-49.1, -25.1]})

    assert OBJECT_ID.fullmatch(made["id"])
    assert made["createdAt"] == made["updatedAt"]
    assert sim.object("boxes", made["id"])["name"] == "CTO-09"  # type: ignore[index]
    with pytest.raises(OzmapRefused, match="project .* does not exist") as refused:
        client.create(BOXES, {"name": "CTO-10", "project": "0" * 24})
    assert refused.value.status == 400
    with pytest.raises(ValueError, match="gives the id"):
        client.create(BOXES, {"id": "x", "name": "CTO-11"})


def test_a_create_whose_answer_was_lost_is_not_sent_again(sim: OzmapSimulator) -> None:
    project, _, _ = _plant(sim)
    client = _client(sim, read_timeout=0.3)
    sim.fail("timeout", where=lambda request: request.method == "POST")

    with pytest.raises(OzmapTransientError, match="no answer"):
        client.create(BOXES, {"name": "CTO-09", "project": project})
    assert sim.count("POST boxes") == 1
    assert len(sim.store["boxes"]) == 2  # it was made once; the sync matches it by name later


def test_update_is_a_204_patch_that_never_sends_external_id(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    _, box, _ = _plant(sim)
    sim.store["boxes"][box]["external_id"] = "ixc-17"
    sim.touch("boxes", box, "2026-01-01T00:00:00.000Z")

    client.update(BOXES, box, {"observation": "trocada", "external_id": "ixc-17", "id": box})

    call = sim.calls[-1]
    assert (call.method, call.operation, call.body) == (
        "PATCH",
        "PATCH boxes/:id",
        {"observation": "trocada"},
    )
    stored = sim.object("boxes", box)
    assert stored["observation"] == "trocada" and stored["name"] == "CTO-01"  # type: ignore[index]
    assert stored["updatedAt"] > "2026-01-01T00:00:00.000Z"  # type: ignore[index]
    # what the stripping avoids: OZmap refuses an object's own external_id again
    again = requests.patch(
        f"{sim.url}{API_PATH}/boxes/{box}",
        headers={"Authorization": sim.key},
        data=json.dumps({"external_id": "ixc-17"}),
    )
    assert again.status_code == 400
    with pytest.raises(OzmapNotFound):
        client.update(BOXES, "e" * 24, {"name": "x"})


def test_splitters_of_boxes_and_their_free_ports(client: OzmapClient, sim: OzmapSimulator) -> None:
    project, box, splitter = _plant(sim)
    other = sim.add("boxes", name="CTO-02", project=project)["id"]
    sim.add_splitter(other, outputs=4, name="SPL-2", ports=[{"index": 2, "blocked": True}])
    sim.add("boxes", name="CTO-03", project=project)

    found = [*client.splitters_of([box, other])]

    assert [row["name"] for row in found] == ["SPL-1", "SPL-2"]
    assert free_ports(found[0]) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert free_ports(found[1]) == [1, 3, 4]
    client.create_property(project=project, box=box, port=3, client={"code": "7", "name": "B"})
    assert free_ports(client.splitter(splitter)) == [1, 2, 4, 5, 6, 7, 8]  # type: ignore[arg-type]


def test_a_property_on_an_occupied_port_is_refused_unless_forced(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, box, splitter = _plant(sim)
    first = client.create_property(
        project=project, box=box, port=2, client={"code": "1001", "name": "Ana"}, coords=[1, 2]
    )

    with pytest.raises(OzmapRefused, match="port 2 .* occupied") as refused:
        client.create_property(project=project, box=box, port=2, client={"code": "1002"})
    assert refused.value.status == 400
    assert len(sim.store["properties"]) == 1 and len(sim.store["ftth-clients"]) == 1

    forced = client.create_property(
        project=project, box=box, port=2, client={"code": "1002", "name": "Bia"}, force=True
    )
    assert sim.calls[-1].body["force"] is True
    assert client.get_property(first["id"])["connections"] == []  # type: ignore[index]
    assert forced["connections"][0]["port"] == 2
    outputs = sim.store["splitters"][splitter]["connectables"]["output"]
    assert outputs[1] == forced["drop"]


def test_a_property_shows_its_client_and_is_found_by_the_client_code(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, box, splitter = _plant(sim)
    made = client.create_property(
        project=project,
        box=box,
        port=1,
        client={"code": "login 55/a", "name": "Carla", "implanted": False},
        address="Rua XV, 10",
    )

    shown = client.get_property(made["id"])
    assert shown["client"]["code"] == "login 55/a"  # type: ignore[index]
    assert shown["connections"][0] == {  # type: ignore[index]
        "id": splitter,
        "name": "SPL-1",
        "kind": "Splitter",
        "port": 1,
        "implanted": True,
        "fiber": shown["drop"],  # type: ignore[index]
    }
    [found] = client.properties_of_client("login 55/a")
    assert found["id"] == made["id"] and found["client"]["name"] == "Carla"
    assert sim.calls[-1].raw_path == "properties/client/login%2055%2Fa"
    assert client.properties_of_client("nobody") == []
    with pytest.raises(ValueError, match="code"):
        client.create_property(project=project, box=box, port=2, client={"name": "x"})


def test_a_property_moves_port_disconnects_and_frees_its_port_when_deleted(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    project, box, splitter = _plant(sim)
    made = client.create_property(project=project, box=box, port=1, client={"code": "9"})

    client.update_property(made["id"], {"port": 5})
    assert free_ports(sim.store["splitters"][splitter]) == [1, 2, 3, 4, 6, 7, 8]
    assert client.get_property(made["id"])["connections"][0]["port"] == 5  # type: ignore[index]

    client.update_property(made["id"], {"connector": None})
    assert client.get_property(made["id"])["connections"] == []  # type: ignore[index]
    assert len(free_ports(sim.store["splitters"][splitter])) == 8

    client.update_property(made["id"], {"port": 4, "connector": splitter})
    assert client.delete_property(made["id"]) is True
    assert len(free_ports(sim.store["splitters"][splitter])) == 8
    assert client.get_property(made["id"]) is None


def test_clients_are_read_patched_and_deleted(client: OzmapClient, sim: OzmapSimulator) -> None:
    project, box, _ = _plant(sim)
    made = client.create_property(project=project, box=box, port=1, client={"code": "3"})
    client_id = client.get_property(made["id"])["client"]["id"]  # type: ignore[index]

    client.update_client(client_id, {"implanted": True, "name": "Dora"})
    assert client.client(client_id)["implanted"] is True  # type: ignore[index]
    assert sim.calls[-2].operation == "PATCH ftth-clients/:id"

    assert client.delete_client(client_id) is True
    assert client.client(client_id) is None
    assert client.get_property(made["id"])["client"] is None  # type: ignore[index]


def test_batch_updates_of_status_implanted_and_power(
    client: OzmapClient, sim: OzmapSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, box, _ = _plant(sim)
    made = [
        client.create_property(project=project, box=box, port=n, client={"code": str(n)})
        for n in (1, 2, 3)
    ]
    clients = [client.get_property(p["id"])["client"]["id"] for p in made]  # type: ignore[index]
    monkeypatch.setattr(ozmap, "BATCH_IDS", 2)

    assert client.set_client_status(clients[:2], online=False) == 1
    assert client.set_clients_implanted(clients) == 2
    assert client.set_potency([p["id"] for p in made], -19.5) == 2

    assert [sim.store["ftth-clients"][c]["status"] for c in clients] == [1, 1, 0]
    assert all(sim.store["ftth-clients"][c]["implanted"] for c in clients)
    assert {sim.store["properties"][p["id"]]["potencyRead"] for p in made} == {-19.5}
    assert sim.count("POST ftth-clients/batch-update") == 3
    assert sim.calls[-1].body == {
        "filter": [{"property": "id", "operator": "in", "value": [made[2]["id"]]}],
        "update": {"potencyRead": -19.5},
    }
    with pytest.raises(OzmapRefused, match="cannot set"):
        client.batch_update(FTTH_CLIENTS, [where("id", "in", clients)], {"name": "x"})
    with pytest.raises(ValueError, match="needs a filter"):
        client.batch_update(FTTH_CLIENTS, [], {"status": 0})


# retries and timeouts


def test_503_answers_are_retried_until_one_succeeds(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    sim.fail("status:503", times=2)

    assert client.list(BOXES) == []
    assert sim.count("GET boxes") == 3


def test_a_call_that_keeps_failing_raises_after_the_bounded_retries(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    sim.fail("status:500", times=None)

    with pytest.raises(OzmapTransientError, match=r"HTTP 500 .* 3 tries"):
        client.set_client_status(["a" * 24], online=True)
    assert sim.count("POST ftth-clients/batch-update") == 3


def test_a_slow_answer_times_out_and_the_retries_are_bounded(sim: OzmapSimulator) -> None:
    client = _client(sim, read_timeout=0.2)
    sim.fail("hang", times=None)

    started = time.monotonic()
    with pytest.raises(OzmapTransientError, match="no answer after the retries"):
        client.list(BOXES)
    assert sim.count() == 3
    assert time.monotonic() - started < 3


def test_the_backoff_waits_between_attempts(sim: OzmapSimulator) -> None:
    client = _client(sim, backoff=0.2)
    sim.fail("status:503", times=2)

    started = time.monotonic()
    client.list(BOXES)
    assert time.monotonic() - started >= 0.2  # 0 s before the 1st retry, 0.4 s before the 2nd


def test_a_reset_connection_is_retried(client: OzmapClient, sim: OzmapSimulator) -> None:
    _, box, _ = _plant(sim)
    sim.fail("drop")

    client.update(BOXES, box, {"observation": "x"})

    assert sim.count("PATCH boxes/:id") == 2
    assert sim.object("boxes", box)["observation"] == "x"  # type: ignore[index]


def test_a_delete_whose_answer_was_lost_counts_as_done(sim: OzmapSimulator) -> None:
    _, box, _ = _plant(sim)
    client = _client(sim, read_timeout=0.3)
    sim.fail("timeout", where=lambda request: request.method == "DELETE")

    assert client.delete(BOXES, box) is True
    assert sim.count("DELETE boxes/:id") == 2
    assert box not in sim.store["boxes"]


def test_an_unreachable_ozmap_is_transient() -> None:
    with OzmapSimulator() as gone:
        url, key = gone.url, gone.key

    with pytest.raises(OzmapTransientError, match="Max retries exceeded"):
        OzmapClient(url, key, retries=1, backoff=0.0).list(BOXES)


# TLS, secrets, large plants


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_self_signed_certificate_needs_verify_off_or_pinned() -> None:
    with OzmapSimulator(tls=True) as sim:
        strict = OzmapClient(sim.url, sim.key, retries=2, backoff=0.0)
        with pytest.raises(OzmapError, match="TLS") as error:
            strict.list(BOXES)
        assert not isinstance(error.value, OzmapTransientError)
        assert sim.count() == 0

        assert OzmapClient(sim.url, sim.key, verify=False).list(BOXES) == []
        assert OzmapClient(sim.url, sim.key, verify=str(sim.certificate_path)).authenticated()


def test_no_log_and_no_error_shows_the_key_or_the_password(
    sim: OzmapSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    debug_log = logging.getLogger(f"tests.ozmap.{uuid.uuid4().hex}")
    debug_log.setLevel(logging.DEBUG)
    project, box, _ = _plant(sim)
    client = _client(sim, user=sim.user, password=sim.password, debug_log=debug_log)
    errors: list[str] = []

    with caplog.at_level(logging.DEBUG):
        client.list(BOXES)
        sim.expire_keys()
        client.create_property(project=project, box=box, port=1, client={"code": "1"})
        client.login()
        sim.fail("status:503", times=None)
        for failing in (
            lambda: client.update(BOXES, box, {"name": "x"}),
            lambda: OzmapClient(sim.url, "", user=sim.user, password="bad-Pw", retries=0).list(
                BOXES
            ),
        ):
            with pytest.raises(OzmapError) as error:
                failing()
            errors.append(str(error.value))

    log = caplog.text + "\n".join(errors) + repr(client)
    assert "OZmap list boxes: 1 of 1 from 0" in log
    assert "logging in again" in log and "retrying" in log
    assert sim.count("POST users/login") == 3
    for secret in (sim.key, sim.password, "bad-Pw", *sim.valid_keys):
        assert secret not in log


def test_a_generated_plant_is_read_whole_by_cursor(sim: OzmapSimulator) -> None:
    boxes = generate_plant(sim, boxes=300, splitters_per_box=3, outputs=16)
    client = _client(sim, page_size=250)

    read = [row["id"] for row in client.boxes_changed_since(None)]
    splitters = [*client.splitters_of(read)]

    assert sorted(read) == sorted(boxes)
    assert len(splitters) == 900
    assert sum(len(free_ports(s)) for s in splitters) == 900 * 16
    assert sum(1 for s in splitters if s["isDrop"]) == 300


def test_threads_refused_at_once_share_one_login(sim: OzmapSimulator) -> None:
    client = _client(sim, user=sim.user, password=sim.password, pool_size=8)
    sim.latency = 0.05
    sim.expire_keys()

    with ThreadPoolExecutor(max_workers=8) as pool:
        listed = list(pool.map(lambda _: client.list(BOXES), range(8)))

    assert listed == [[]] * 8
    assert sim.count("POST users/login") == 1
    assert client.logins == 1


def test_calls_are_counted_in_the_metrics_as_ozmaps(
    client: OzmapClient, sim: OzmapSimulator
) -> None:
    def count(name: str, **labels: str) -> float:
        text = metrics.exposition(lambda: ({}, {}), lambda: None).decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    before = count("ngnserver_vendor_call_seconds_count", vendor="ozmap")
    failed = count("ngnserver_vendor_call_errors_total", vendor="ozmap", error="HTTP 503")
    sim.fail("status:503")
    client.list(BOXES)

    assert count("ngnserver_vendor_call_seconds_count", vendor="ozmap") == before + 1
    assert count("ngnserver_vendor_call_errors_total", vendor="ozmap", error="HTTP 503") == failed
