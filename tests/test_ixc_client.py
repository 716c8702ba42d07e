"""The IXC webservice client against the IXC simulator over real HTTP: listings carry the
``ixcsoft: listar`` header and string parameters and page until IXC's string total, inserts
never carry it, edits keep every column they do not change, errors inside an HTTP 200 raise,
failures are retried a bounded number of times (an insert only when nothing was sent), and
neither the token nor a password reaches a log."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from ngnserver.vendors import ixc as ixc_module
from ngnserver.vendors.ixc import (
    IxcAuthError,
    IxcClient,
    IxcError,
    IxcNotFound,
    IxcProtocolError,
    IxcRefused,
    IxcTransientError,
)
from tests.support.ixc_simulator import API_PATH, COLUMNS, IxcSimulator, populate


@pytest.fixture
def ixc() -> Iterator[IxcSimulator]:
    with IxcSimulator(seed=True) as simulator:
        yield simulator


@pytest.fixture
def client(ixc: IxcSimulator) -> Iterator[IxcClient]:
    with _client(ixc) as client:
        yield client


def _client(ixc: IxcSimulator, **options: object) -> IxcClient:
    settings: dict[str, object] = {
        "retries": 2,
        "backoff": 0.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    settings.update(options)
    return IxcClient(ixc.url, ixc.token, **settings)  # type: ignore[arg-type]


def logins(rows: list[dict[str, str]]) -> list[str]:
    return [row["login"] for row in rows]


def raw_post(ixc: IxcSimulator, table: str, body: dict[str, str], **headers: str) -> dict:
    credentials = base64.b64encode(ixc.token.encode()).decode()
    reply = requests.post(
        f"{ixc.url}{API_PATH}/{table}",
        data=json.dumps(body),
        headers={"Authorization": f"Basic {credentials}", **headers},
        timeout=5,
    )
    return reply.json()


# listing


def test_a_listing_is_a_post_with_the_listar_header_and_string_parameters(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    rows = client.list("radusuarios", qtype="radusuarios.online", query="S")

    assert logins(rows) == ["ana", "bruno"]
    [call] = ixc.calls
    assert (call.method, call.segments, call.operation) == ("POST", ("radusuarios",), "list")
    assert call.headers["ixcsoft"] == "listar"
    assert call.body == {
        "qtype": "radusuarios.online",
        "oper": "=",
        "query": "S",
        "page": "1",
        "rp": "10000",
        "sortname": "radusuarios.id",
        "sortorder": "asc",
    }
    assert ixc.count("insert") == 0
    assert len(ixc.rows("radusuarios")) == 4


def test_every_row_comes_with_all_its_columns_as_strings(client: IxcClient) -> None:
    [plan] = client.list("radgrupos", qtype="radgrupos.grupo", query="Plano 100M")

    assert plan == {
        "id": "1",
        "grupo": "Plano 100M",
        "upload": "50M",
        "download": "100M",
        "tipo": "I",
    }


def test_iterate_pages_until_the_total_ixc_sends_as_a_string(ixc: IxcSimulator) -> None:
    for index in range(25):
        ixc.add("df_projeto", nome=f"Projeto {index:02}")
    client = _client(ixc, page_size=10)

    rows = list(client.iterate("df_projeto"))

    assert len(rows) == 27
    assert [row["id"] for row in rows] == [str(n) for n in range(1, 28)]
    assert [call.body["page"] for call in ixc.calls] == ["1", "2", "3"]
    assert {call.body["rp"] for call in ixc.calls} == {"10"}
    page = client.list_page("df_projeto", page=3, rp=10)
    assert (page.number, page.total, len(page.records)) == (3, 27, 7)


def test_a_listing_that_matches_nothing_is_one_call_and_no_rows(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    assert client.list("radusuarios", qtype="radusuarios.login", query="nobody") == []
    assert ixc.count("list") == 1

    page = client.list_page("radusuarios", qtype="radusuarios.login", query="nobody")
    assert (page.total, page.records) == (0, [])


def test_the_simulator_omits_registros_on_an_empty_page_and_sends_strings(
    ixc: IxcSimulator,
) -> None:
    listar = {"ixcsoft": "listar"}
    past_the_end = raw_post(ixc, "radgrupos", {"page": "9", "rp": "2"}, **listar)
    first = raw_post(ixc, "radgrupos", {"page": "1", "rp": "2"}, **listar)

    assert past_the_end == {"page": "9", "total": "4"}
    assert (first["page"], first["total"], len(first["registros"])) == ("1", "4", 2)


def test_a_page_without_registros_ends_the_listing_even_before_the_total(
    ixc: IxcSimulator,
) -> None:
    client = _client(ixc, page_size=2)
    ixc.fail_page("radgrupos", 2, kind='body:{"page":"2","total":"4"}', times=1)

    assert [row["id"] for row in client.iterate("radgrupos")] == ["1", "2"]
    assert ixc.count("list") == 2


def test_a_numeric_total_is_read_as_well(client: IxcClient, ixc: IxcSimulator) -> None:
    body = json.dumps({"page": 1, "total": 1, "registros": [{"id": "5", "nome": "X"}]})
    ixc.fail_listing("df_projeto", kind=f"body:{body}")

    assert client.list("df_projeto") == [{"id": "5", "nome": "X"}]


@pytest.mark.parametrize(
    ("oper", "query", "expected"),
    [
        ("=", "2", ["bruno"]),
        ("!=", "2", ["ana", "carla", "davi"]),
        (">", "2", ["carla", "davi"]),
        (">=", "2", ["bruno", "carla", "davi"]),
        ("<", "2", ["ana"]),
        ("<=", "2", ["ana", "bruno"]),
    ],
)
def test_comparison_operators_compare_numbers_as_numbers(
    client: IxcClient, oper: str, query: str, expected: list[str]
) -> None:
    assert logins(client.list("radusuarios", qtype="radusuarios.id", oper=oper, query=query)) == (
        expected
    )


def test_the_like_operator_matches_within_the_value_or_by_pattern(client: IxcClient) -> None:
    assert logins(client.list("radusuarios", qtype="login", oper="L", query="AR")) == ["carla"]
    assert logins(client.list("radusuarios", qtype="login", oper="L", query="%a")) == [
        "ana",
        "carla",
    ]


def test_grid_filters_add_to_the_main_filter(client: IxcClient, ixc: IxcSimulator) -> None:
    rows = client.list(
        "radusuarios",
        qtype="radusuarios.online",
        oper="!=",
        query="N",
        grid=[("radusuarios.id_grupo", "=", "1")],
    )

    assert logins(rows) == ["ana", "davi"]
    assert json.loads(ixc.calls[-1].body["grid_param"]) == [
        {"TB": "radusuarios.id_grupo", "OP": "=", "P": "1"}
    ]


def test_a_listing_sorts_as_asked(client: IxcClient) -> None:
    rows = client.list("radusuarios", sortname="radusuarios.login", sortorder="desc")

    assert logins(rows) == ["davi", "carla", "bruno", "ana"]


def test_get_reads_one_row_and_a_missing_one_is_not_found(client: IxcClient) -> None:
    assert client.get("radusuarios", 3)["login"] == "carla"
    with pytest.raises(IxcNotFound, match="no radusuarios with id 99"):
        client.get("radusuarios", "99")


def test_a_listing_ixc_cannot_run_is_an_error_inside_http_200_not_retried(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    with pytest.raises(IxcRefused) as refused:
        client.list("radusuarios", qtype="radusuarios.no_such_column", query="x")

    assert "no_such_column" in refused.value.message
    assert refused.value.status == 200
    assert not isinstance(refused.value, IxcTransientError)
    assert ixc.count("list") == 1


def test_an_answer_to_a_listing_that_is_an_insert_answer_is_a_protocol_error(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    ixc.fail_listing("radgrupos", kind='body:{"type":"success","message":"ok","id":"9"}')

    with pytest.raises(IxcProtocolError, match="not a listing"):
        client.list("radgrupos")


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("not_json", "not JSON"),
        ('body:{"page":"1","total":"many","registros":[]}', "is not a number"),
        ('body:{"page":"1","total":"1","registros":{"id":"1"}}', "not a list of rows"),
        ("body:[1, 2]", "not a JSON object"),
    ],
)
def test_an_answer_that_is_not_an_ixc_listing_is_a_transient_protocol_error(
    client: IxcClient, ixc: IxcSimulator, kind: str, match: str
) -> None:
    ixc.fail_listing("radgrupos", kind=kind)

    with pytest.raises(IxcProtocolError, match=match) as error:
        client.list("radgrupos")
    assert isinstance(error.value, IxcTransientError)


def test_bad_listing_arguments_are_refused_before_sending(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    with pytest.raises(ValueError, match="oper"):
        client.list("radusuarios", qtype="login", oper="LIKE", query="a")
    with pytest.raises(ValueError, match="oper"):
        client.list("radusuarios", grid=[("login", "~", "a")])
    with pytest.raises(ValueError, match="sortorder"):
        client.list("radusuarios", sortorder="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table name"):
        client.list("radusuarios/1")
    assert ixc.count() == 0


# the listing header and inserts


def test_a_listing_body_posted_without_the_header_inserts_a_row_at_the_simulator(
    ixc: IxcSimulator,
) -> None:
    """The hazard the client's API rules out: IXC reads a POST without ``ixcsoft: listar``
    as an insert, whatever its body."""
    reply = raw_post(ixc, "radgrupos", {"qtype": "radgrupos.id", "page": "1", "rp": "10"})

    assert reply["type"] == "success"
    assert ixc.row("radgrupos", reply["id"]) == {
        "id": reply["id"],
        "grupo": "",
        "upload": "",
        "download": "",
        "tipo": "",
    }


def test_insert_posts_without_the_listar_header_and_returns_the_new_id(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    new_id = client.insert("df_projeto", {"nome": "Loteamento Sul", "status": "A"})

    assert new_id == "3"
    [call] = ixc.calls
    assert (call.method, call.operation) == ("POST", "insert")
    assert "ixcsoft" not in call.headers
    assert call.body == {"nome": "Loteamento Sul", "status": "A"}
    assert ixc.row("df_projeto", new_id)["nome"] == "Loteamento Sul"
    assert ixc.count("list") == 0


def test_the_client_has_no_way_to_post_a_listing_without_its_header(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    client.list("radusuarios")
    client.list_page("radgrupos", page=2, rp=1)
    list(client.iterate("cliente_contrato", rp=4))
    client.get("radusuarios", 1)
    client.update("radusuarios", 1, {"ip": "100.64.9.9"})

    assert ixc.count("insert") == 0
    assert all(
        call.headers.get("ixcsoft") == "listar" for call in ixc.calls if call.method == "POST"
    )
    assert "ixcsoft" not in next(call for call in ixc.calls if call.method == "PUT").headers
    assert [name for name in dir(IxcClient) if name in ("post", "request", "send")] == []


def test_an_insert_error_inside_http_200_is_refused(client: IxcClient, ixc: IxcSimulator) -> None:
    message = "O campo codigo_estilo_caixa é obrigatório"
    ixc.fail("body:" + json.dumps({"type": "error", "message": message}))

    with pytest.raises(IxcRefused) as refused:
        client.insert("rad_caixa_ftth", {"descricao": "CTO-002"})
    assert refused.value.message == message


def test_insert_refuses_an_id(client: IxcClient, ixc: IxcSimulator) -> None:
    with pytest.raises(ValueError, match="IXC gives the id"):
        client.insert("df_projeto", {"id": "7", "nome": "X"})
    assert ixc.count() == 0


def test_an_insert_is_not_sent_again_after_a_5xx(client: IxcClient, ixc: IxcSimulator) -> None:
    ixc.fail("status:503", times=None)

    with pytest.raises(IxcTransientError, match="HTTP 503"):
        client.insert("df_projeto", {"nome": "X"})
    assert ixc.count("insert") == 1


def test_an_insert_whose_answer_is_lost_is_not_sent_again(ixc: IxcSimulator) -> None:
    client = _client(ixc, read_timeout=0.3)
    ixc.fail("timeout")

    with pytest.raises(IxcTransientError, match="no answer"):
        client.insert("df_projeto", {"nome": "Only once"})
    assert ixc.count("insert") == 1
    assert [row["nome"] for row in ixc.rows("df_projeto")].count("Only once") == 1


def test_an_insert_is_tried_again_when_the_connection_could_not_be_opened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with IxcSimulator() as gone:
        url, token = gone.url, gone.token
    client = IxcClient(url, token, retries=2, backoff=0.0, connect_timeout=1.0)

    with (
        caplog.at_level(logging.WARNING, logger="ngnserver.vendors"),
        pytest.raises(IxcTransientError, match="no answer after the retries") as error,
    ):
        client.insert("df_projeto", {"nome": "X"})

    assert "Max retries exceeded" in str(error.value)
    retried = [r.getMessage() for r in caplog.records if r.name == "ngnserver.vendors"]
    assert retried == [
        "POST /webservice/v1/df_projeto failed (NewConnectionError); retrying, 1 attempts left",
        "POST /webservice/v1/df_projeto failed (NewConnectionError); retrying, 0 attempts left",
    ]


# editing


def test_update_reads_merges_and_puts_the_whole_row_without_its_id(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    before = ixc.row("radusuarios", 1)

    written = client.update("radusuarios", 1, {"id_caixa_ftth": "1", "ftth_porta": "7"})

    assert ixc.row("radusuarios", 1) == {**before, "id_caixa_ftth": "1", "ftth_porta": "7"}
    assert written == ixc.row("radusuarios", 1)
    put = ixc.calls[-1]
    assert (put.method, put.segments, put.operation) == ("PUT", ("radusuarios", "1"), "update")
    assert set(put.body) == set(COLUMNS["radusuarios"]) - {"id"}
    assert put.body["senha"] == "ppp-Secret-ana"
    assert [call.operation for call in ixc.calls] == ["list", "update"]


def test_the_simulator_blanks_every_column_a_put_does_not_send(ixc: IxcSimulator) -> None:
    credentials = base64.b64encode(ixc.token.encode()).decode()
    reply = requests.put(
        f"{ixc.url}{API_PATH}/radusuarios/1",
        data=json.dumps({"ftth_porta": "7"}),
        headers={"Authorization": f"Basic {credentials}"},
        timeout=5,
    )

    assert reply.json()["type"] == "success"
    row = ixc.row("radusuarios", 1)
    assert (row["ftth_porta"], row["login"], row["senha"], row["ip"]) == ("7", "", "", "")


def test_update_of_a_missing_row_is_not_found_and_writes_nothing(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    with pytest.raises(IxcNotFound):
        client.update("radusuarios", 42, {"ip": "100.64.1.1"})
    assert ixc.writes() == 0


def test_an_update_error_inside_http_200_is_refused(client: IxcClient, ixc: IxcSimulator) -> None:
    ixc.fail(
        'body:{"type":"error","message":"Login em uso"}',
        where=lambda request: request.method == "PUT",
    )

    with pytest.raises(IxcRefused, match="Login em uso"):
        client.update("radusuarios", 2, {"login": "ana"})


def test_update_cannot_change_the_id(client: IxcClient, ixc: IxcSimulator) -> None:
    with pytest.raises(ValueError, match="id"):
        client.update("radusuarios", 1, {"id": "5"})
    with pytest.raises(ValueError, match="row id"):
        client.update("radusuarios", "1/../2", {"ip": "x"})
    assert ixc.count() == 0


def test_a_put_whose_answer_is_lost_is_sent_again(ixc: IxcSimulator) -> None:
    client = _client(ixc, read_timeout=0.3)
    ixc.fail("timeout", where=lambda request: request.method == "PUT")

    client.update("radusuarios", 2, {"ip": "100.64.7.7"})

    assert ixc.count("update") == 2
    assert ixc.row("radusuarios", 2)["ip"] == "100.64.7.7"


def test_delete_removes_the_row_and_a_missing_one_is_refused(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    client.delete("rad_caixa_ftth", 1)

    assert ixc.rows("rad_caixa_ftth") == []
    assert ixc.calls[-1].segments == ("rad_caixa_ftth", "1")
    with pytest.raises(IxcRefused, match="não existe"):
        client.delete("rad_caixa_ftth", 1)


# retries and timeouts


def test_5xx_answers_are_retried_and_the_listing_goes_on(
    client: IxcClient, ixc: IxcSimulator
) -> None:
    ixc.fail_listing("radusuarios", kind="status:503", times=2)

    assert len(client.list("radusuarios")) == 4
    assert ixc.count("list") == 3


def test_a_page_that_keeps_failing_raises_after_the_bounded_retries(ixc: IxcSimulator) -> None:
    populate(ixc, logins=30, plans=2, contracts=3)
    client = _client(ixc, page_size=10, retries=3)
    ixc.fail_page("radusuarios", 2)

    started = time.monotonic()
    with pytest.raises(IxcTransientError, match=r"list radusuarios page 2: HTTP 500 .* 4 tries"):
        client.list("radusuarios")
    assert time.monotonic() - started < 5
    pages = [call.body["page"] for call in ixc.calls]
    assert pages == ["1", "2", "2", "2", "2"]


def test_a_page_that_fails_with_an_error_inside_200_is_not_retried(ixc: IxcSimulator) -> None:
    populate(ixc, logins=30, plans=2, contracts=3)
    client = _client(ixc, page_size=10)
    ixc.fail_page("radusuarios", 3, kind='body:{"type":"error","message":"Limite excedido"}')

    with pytest.raises(IxcRefused, match="page 3: Limite excedido"):
        list(client.iterate("radusuarios"))
    assert [call.body["page"] for call in ixc.calls] == ["1", "2", "3"]


def test_a_slow_page_times_out_is_retried_and_then_fails(ixc: IxcSimulator) -> None:
    client = _client(ixc, read_timeout=0.2, retries=2)
    ixc.fail_listing("radgrupos", kind="hang", times=None)

    started = time.monotonic()
    with pytest.raises(IxcTransientError, match="no answer after the retries"):
        client.list("radgrupos")
    elapsed = time.monotonic() - started
    assert ixc.count("list") == 3
    assert 0.6 <= elapsed < 3


def test_a_slow_answer_within_the_timeout_is_waited_for(ixc: IxcSimulator) -> None:
    client = _client(ixc, read_timeout=2.0)
    ixc.latency = 0.3

    assert len(client.list("radgrupos")) == 4
    assert ixc.count("list") == 1


def test_a_dropped_connection_is_retried(client: IxcClient, ixc: IxcSimulator) -> None:
    ixc.fail("drop")

    assert len(client.list("radgrupos")) == 4
    assert ixc.count("list") == 2


def test_retries_back_off_exponentially(ixc: IxcSimulator) -> None:
    client = _client(ixc, retries=3, backoff=0.1)
    ixc.fail_listing("radgrupos", kind="status:502", times=3)

    started = time.monotonic()
    client.list("radgrupos")

    # urllib3 retries at once the first time, then waits 0.2 s and 0.4 s
    assert time.monotonic() - started >= 0.55
    assert ixc.count("list") == 4


def test_no_retries_means_one_try(ixc: IxcSimulator) -> None:
    client = _client(ixc, retries=0)
    ixc.fail_listing("radgrupos", kind="status:500", times=1)

    with pytest.raises(IxcTransientError, match="1 tries"):
        client.list("radgrupos")
    assert ixc.count("list") == 1


def test_each_retry_is_logged_as_a_warning(
    client: IxcClient, ixc: IxcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    ixc.fail_listing("radgrupos", kind="status:503", times=1)

    with caplog.at_level(logging.WARNING, logger="ngnserver.vendors"):
        client.list("radgrupos")

    [record] = [r for r in caplog.records if r.name == "ngnserver.vendors"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "POST /webservice/v1/radgrupos failed (HTTP 503); retrying, 1 attempts left"
    )


# connections, authentication, TLS


def test_requests_share_one_kept_alive_connection(client: IxcClient, ixc: IxcSimulator) -> None:
    for _ in range(10):
        client.list("radgrupos")
    client.update("radusuarios", 1, {"ip": "100.64.3.3"})

    assert ixc.count() == 12
    assert ixc.connections == 1


def test_the_token_is_the_basic_credentials(client: IxcClient, ixc: IxcSimulator) -> None:
    client.list("radgrupos")

    encoded = ixc.calls[0].headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode() == ixc.token


def test_a_wrong_token_is_an_auth_error_not_retried(ixc: IxcSimulator) -> None:
    client = IxcClient(ixc.url, "7:wrong", retries=3, backoff=0.0)

    with pytest.raises(IxcAuthError, match="HTTP 401") as error:
        client.list("radgrupos")
    assert error.value.status == 401
    assert ixc.count() == 1


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_is_verified_unless_told_otherwise() -> None:
    with IxcSimulator(seed=True, tls=True) as ixc:
        with pytest.raises(IxcError) as error:
            IxcClient(ixc.url, ixc.token, retries=2, backoff=0.0).list("radgrupos")
        assert not isinstance(error.value, IxcTransientError)
        assert "TLS" in str(error.value)

        assert len(IxcClient(ixc.url, ixc.token, verify=False).list("radgrupos")) == 4
        pinned = IxcClient(ixc.url, ixc.token, verify=str(ixc.certificate_path))
        assert len(pinned.list("radgrupos")) == 4


def test_the_url_gets_the_webservice_path_once_and_carries_no_credentials() -> None:
    assert IxcClient("https://ixc.example.com/", "1:k").url == (
        "https://ixc.example.com/webservice/v1"
    )
    assert IxcClient("https://ixc.example.com/webservice/v1", "1:k").url == (
        "https://ixc.example.com/webservice/v1"
    )
    with pytest.raises(ValueError, match="credentials"):
        IxcClient("https://user:pw@ixc.example.com", "1:k")
    with pytest.raises(ValueError, match="http"):
        IxcClient("ixc.example.com", "1:k")
    with pytest.raises(ValueError, match="token"):
        IxcClient("https://ixc.example.com", "")


# secrets


def test_no_log_and_no_error_shows_the_token_or_a_password(
    ixc: IxcSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    debug_log = logging.getLogger(f"tests.ixc.{uuid.uuid4().hex}")
    debug_log.setLevel(logging.DEBUG)
    client = _client(ixc, debug_log=debug_log, read_timeout=0.3)
    errors: list[str] = []

    with caplog.at_level(logging.DEBUG):
        client.list("radusuarios")
        client.update("radusuarios", 1, {"senha": "ppp-New-Secret"})
        client.insert("radpop_radio", {"descricao": "OLT Sul", "senha": "olt-Secret-3"})
        ixc.fail_listing("radusuarios", kind="status:500", times=None)
        for failing in (
            lambda: client.list("radusuarios"),
            lambda: IxcClient(ixc.url, "7:wrong", retries=0).list("radgrupos"),
        ):
            with pytest.raises(IxcError) as error:
                failing()
            errors.append(str(error.value))

    log = caplog.text + "\n".join(errors) + repr(client)
    assert "radusuarios page 1: total 4, 4 rows" in log
    assert '"senha": "***"' in log
    encoded = base64.b64encode(ixc.token.encode()).decode()
    secrets = [ixc.token, ixc.token.split(":")[1], encoded, "ppp-New-Secret", "olt-Secret-3"]
    secrets += [row["senha"] for row in ixc.rows("radusuarios")]
    for secret in secrets:
        assert secret not in log


def test_the_retry_policy_is_bounded_even_for_a_retry_after_of_an_hour() -> None:
    retry = ixc_module.rest.BoundedRetry(total=1, backoff_factor=0)

    class Answer:
        headers = {"Retry-After": "3600"}

    assert retry.get_retry_after(Answer()) == ixc_module.rest.MAX_RETRY_AFTER  # type: ignore[arg-type]


# the simulator's generated ISP


def test_a_listing_after_a_write_sees_the_write(client: IxcClient, ixc: IxcSimulator) -> None:
    assert client.list_page("radusuarios", rp=2).records[0]["ip"] == "100.64.0.1"

    client.update("radusuarios", 1, {"ip": "100.64.5.5"})
    assert client.list_page("radusuarios", rp=2).records[0]["ip"] == "100.64.5.5"
    ixc.change("radusuarios", 1, online="N")
    assert logins(client.list("radusuarios", qtype="online", query="S")) == ["bruno"]


def test_populate_generates_the_same_isp_for_the_same_seed() -> None:
    with IxcSimulator() as first, IxcSimulator() as second:
        populate(first, logins=500, plans=20, contracts=300)
        populate(second, logins=500, plans=20, contracts=300)

        assert first.rows("radusuarios") == second.rows("radusuarios")
        logins_ = first.rows("radusuarios")
        plans = first.rows("radgrupos")
        contracts = first.rows("cliente_contrato")
    assert (len(logins_), len(plans), len(contracts)) == (500, 20, 300)
    assert len({row["ip"] for row in logins_}) == 500
    assert {row["status_internet"] for row in contracts} == {"A", "D", "CM", "CA", "FA", "AA"}
    assert {row["tipo"] for row in plans} == {"I", "T"}
    assert {row["download"][-1] for row in plans} == {"k", "M", "G"}
    assert {row["online"] for row in logins_} == {"S", "N"}
