"""A simulator of the IXC Provedor webservice (IXC Soft's ERP), served over real HTTP on
127.0.0.1, for the tests of the IXC client and of the syncs built on it.

Typical use::

    with IxcSimulator() as ixc:                       # a free port, stopped on exit
        ixc.add("radgrupos", grupo="Plano 100M", upload="50M", download="100M", tipo="I")
        client = IxcClient(ixc.url, ixc.token)
        client.list("radgrupos")

It behaves as vendors.md 3.3 describes:

- generic table storage with integer-string ids; every column of a table (:data:`COLUMNS`)
  is in every row, '' when never set;
- ``POST /webservice/v1/<table>`` *with* ``ixcsoft: listar`` lists, *without* it inserts
  (whatever the body: a listing body posted without the header inserts a blank row, as the
  real mistake would). Listing filters by ``qtype``/``oper``/``query`` (``=``, ``>``, ``<``,
  ``>=``, ``<=``, ``!=``, and ``L``: SQL LIKE with ``%`` and ``_``, or "contains" when the
  query has neither; case-insensitive, as MySQL compares), by ``grid_param``, sorts by
  ``sortname``/``sortorder`` (as numbers when every value is one), pages by ``page``/``rp``
  and answers ``{"page", "total", "registros"}`` with the numbers as strings and no
  ``registros`` when the page is empty;
- ``PUT /<table>/<id>`` replaces the whole row: a column not sent is blanked;
  ``DELETE /<table>/<id>`` removes it;
- writes, and listings IXC cannot run (an unknown column or operator), answer
  ``{"type": "error", "message"}`` in an HTTP 200; successes ``{"type": "success", ...}``,
  with the new ``id`` for an insert;
- HTTP Basic authentication with the token as credentials; 401 with an HTML body otherwise.

Knobs (from :class:`~tests.support.http_simulator.HttpSimulator`): :meth:`fail` with a
predicate, :meth:`fail_page` (one listing page fails, by default forever), ``latency``.
Counters: :meth:`count` by operation (``list``, ``insert``, ``update``, ``delete``), ``calls``
(method, segments, operation, JSON body, fault), :meth:`writes`. :func:`populate` fills the
tables with a generated ISP of any size.

The error messages, the insert's ``id`` key and the meaning of ``L`` are our assumptions
(vendors.md marks them [I]).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tests.support.http_simulator import HttpSimulator, Request, Response, json_response

API_PATH = "/webservice/v1"
TOKEN = "7:d4c1f0a3e6b94c2a8b7e5f6a9c0d1e2f"

COLUMNS: dict[str, tuple[str, ...]] = {
    "rad_caixa_ftth": (
        "id", "descricao", "tipo", "id_projeto", "id_transmissor", "id_interface",
        "id_tecnologia", "capacidade", "latitude", "longitude", "codigo_estilo_caixa",
        "obs_caixa_ftth", "status", "idx", "external_id", "ultima_atualizacao", "cep",
        "endereco", "numero", "bairro", "id_cidade",
    ),
    "df_projeto": (
        "id", "nome", "id_filial", "zoom", "status", "cor_mapa", "latitude", "longitude",
    ),
    "radpop_radio": (
        "id", "descricao", "ip", "fabricante_modelo", "porta_ssh", "porta_telnet", "login",
        "senha",
    ),
    "radusuarios": (
        "id", "login", "senha", "ativo", "online", "id_cliente", "id_contrato", "id_grupo",
        "ip", "pd_ipv6", "mac", "onu_mac", "id_transmissor", "id_caixa_ftth", "ftth_porta",
        "id_df_projeto", "sinal_ultimo_atendimento", "latitude", "longitude", "endereco",
        "ultima_atualizacao", "tipo_conexao_mapa",
    ),
    "radpop_radio_cliente_fibra": (
        "id", "id_transmissor", "id_caixa_ftth", "porta_ftth", "id_login", "mac", "nome",
        "sinal_rx", "sinal_tx", "latitude", "longitude",
    ),
    "radgrupos": ("id", "grupo", "upload", "download", "tipo"),
    "cliente_contrato": (
        "id", "id_cliente", "status", "status_internet", "data_ativacao",
        "data_cancelamento", "endereco", "latitude", "longitude",
    ),
    "cliente": (
        "id", "razao", "fantasia", "cnpj_cpf", "ativo", "endereco", "latitude", "longitude",
        "telefone_celular", "email",
    ),
}
"""The tables the simulator knows and their columns (vendors.md 3.2)."""

CONTRACT_STATUSES = ("P", "A", "I", "N", "D")
INTERNET_STATUSES = ("A", "D", "CM", "CA", "FA", "AA")
OPERATORS = ("=", ">", "<", ">=", "<=", "!=", "L")
DEFAULT_RP = 20


class IxcSimulator(HttpSimulator):
    """The simulated webservice. ``token`` is the API token clients authenticate with;
    ``seed`` True fills the tables with :data:`SEED` (a small ISP covering every case).
    ``tables`` (table -> id -> row) is for reading: change rows through :meth:`add`,
    :meth:`change` and :meth:`remove`, which also drop the listings kept for paging."""

    api_path = API_PATH

    def __init__(
        self,
        *,
        token: str = TOKEN,
        seed: bool = False,
        timeout_sleep: float = 10.0,
        keep_calls: bool = True,
        tls: bool = False,
    ) -> None:
        super().__init__(timeout_sleep=timeout_sleep, keep_calls=keep_calls, tls=tls)
        self.token = token
        self.tables: dict[str, dict[int, dict[str, str]]] = {name: {} for name in COLUMNS}
        self._next_ids: dict[str, int] = {name: 1 for name in COLUMNS}
        self._versions: dict[str, int] = {name: 0 for name in COLUMNS}  # bumped on each write
        self._listings: dict[str, tuple[tuple[Any, ...], list[dict[str, str]]]] = {}
        if seed:
            for table, rows in SEED.items():
                for row in rows:
                    self.add(table, **row)

    @property
    def url(self) -> str:
        """The server's address, as an operator configures it (without the API path)."""
        return self.root_url

    # test hooks

    def add(self, table: str, **fields: Any) -> str:
        """Insert a row as IXC's own screens would; returns its id. ``id`` may be given."""
        with self._lock:
            return self._insert(table, {key: str(value) for key, value in fields.items()})

    def row(self, table: str, record_id: str | int) -> dict[str, str]:
        with self._lock:
            return dict(self.tables[table][int(record_id)])

    def rows(self, table: str) -> list[dict[str, str]]:
        with self._lock:
            return [dict(row) for row in self.tables[table].values()]

    def change(self, table: str, record_id: str | int, **fields: Any) -> None:
        """Change columns of a row behind the clients' backs (an operator in IXC's screens)."""
        with self._lock:
            row = self.tables[table][int(record_id)]
            row.update({key: str(value) for key, value in fields.items()})
            self._versions[table] += 1

    def remove(self, table: str, record_id: str | int) -> None:
        with self._lock:
            del self.tables[table][int(record_id)]
            self._versions[table] += 1

    def fail_page(
        self, table: str, page: int, kind: str = "status:500", times: int | None = None
    ) -> None:
        """Make listing page ``page`` of ``table`` fail as ``kind``, ``times`` times (None:
        every time)."""
        self.fail(kind, times, where=lambda request: _is_page(request, table, page))

    def fail_listing(self, table: str, kind: str = "status:500", times: int | None = 1) -> None:
        """Make any listing of ``table`` fail, ``times`` times (None: every time)."""
        self.fail(kind, times, where=lambda request: _is_page(request, table, None))

    def writes(self) -> int:
        """Inserts, updates and deletes received."""
        return self.count("insert") + self.count("update") + self.count("delete")

    # the service

    def classify(self, request: Request) -> str:
        if request.method == "POST":
            return "list" if _listing(request) else "insert"
        return {"PUT": "update", "DELETE": "delete"}.get(request.method, request.method)

    def authorized(self, request: Request) -> bool:
        # IXC takes the whole token as the Basic credentials: "<user id>:<key>".
        credentials = request.basic_auth()
        return credentials is not None and ":".join(credentials) == self.token

    def handle(self, request: Request) -> Response:
        if not request.segments or request.segments[0] not in self.tables:
            return _error(f"Tabela {'/'.join(request.segments)!r} não encontrada")
        table, rest = request.segments[0], request.segments[1:]
        try:
            fields = _fields(request)
        except ValueError:
            return _error("Corpo da requisição inválido")
        if request.method == "POST" and not rest:
            if _listing(request):
                return self._list(table, fields)
            new_id = self._insert(table, fields)
            return json_response(
                200, {"type": "success", "message": "Registro inserido com sucesso!", "id": new_id}
            )
        if request.method in ("PUT", "DELETE") and len(rest) == 1 and rest[0].isdigit():
            record_id = int(rest[0])
            if record_id not in self.tables[table]:
                return _error(f"Registro {record_id} não existe em {table}")
            self._versions[table] += 1
            if request.method == "DELETE":
                del self.tables[table][record_id]
                return json_response(200, {"type": "success", "message": "Registro removido!"})
            self.tables[table][record_id] = _row(table, {**fields, "id": str(record_id)})
            return json_response(
                200, {"type": "success", "message": "Registro atualizado com sucesso!"}
            )
        return Response(405, b"<html><body>Method Not Allowed</body></html>", "text/html")

    def _insert(self, table: str, fields: dict[str, str]) -> str:
        record_id = int(fields.get("id") or self._next_ids[table])
        self._next_ids[table] = max(self._next_ids[table], record_id + 1)
        self.tables[table][record_id] = _row(table, {**fields, "id": str(record_id)})
        self._versions[table] += 1
        return str(record_id)

    def _list(self, table: str, query: dict[str, str]) -> Response:
        try:
            matches = [
                _filter(table, query.get("qtype", ""), query.get("oper", "="), query.get("query"))
            ]
            for extra in json.loads(query.get("grid_param") or "[]"):
                matches.append(_filter(table, extra["TB"], extra.get("OP", "="), extra.get("P")))
            sort_column = _column(table, query.get("sortname") or "id")
            page = int(query.get("page") or 1)
            rp = int(query.get("rp") or DEFAULT_RP)
        except (_Refused, ValueError, KeyError, TypeError) as exc:
            return _error(str(exc) or "Parâmetros de listagem inválidos")
        if page < 1 or rp < 1:
            return _error("page e rp devem ser positivos")
        descending = query.get("sortorder", "asc").lower() == "desc"
        # A paged listing asks the same query once per page: the matching rows, sorted, are
        # kept until the table changes.
        key = (
            self._versions[table],
            *(query.get(name, "") for name in ("qtype", "oper", "query", "grid_param")),
            sort_column,
            descending,
        )
        cached = self._listings.get(table)
        by_id = query.get("oper", "=") == "=" and not query.get("grid_param") and query.get("qtype")
        if by_id and _column(table, query["qtype"]) == "id":
            # a lookup by id, as IXC answers it from its primary key (not a scan of the table)
            wanted = str(query.get("query") or "")
            row = self.tables[table].get(int(wanted)) if wanted.isdigit() else None
            rows = [row] if row is not None and row["id"] == wanted else []
        elif cached is not None and cached[0] == key:
            rows = cached[1]
        else:
            rows = [row for row in self.tables[table].values() if all(m(row) for m in matches)]
            numeric = all(_number(row[sort_column]) is not None for row in rows)
            rows.sort(
                key=lambda row: _number(row[sort_column]) if numeric else row[sort_column].lower(),
                reverse=descending,
            )
            self._listings[table] = (key, rows)
        chosen = rows[(page - 1) * rp : page * rp]
        reply: dict[str, Any] = {"page": str(page), "total": str(len(rows))}
        if chosen:
            reply["registros"] = [dict(row) for row in chosen]
        return json_response(200, reply)


class _Refused(Exception):
    """The listing asks for something IXC cannot do; answered as ``type: error``."""


def _listing(request: Request) -> bool:
    return request.method == "POST" and request.headers.get("ixcsoft", "").strip() == "listar"


def _is_page(request: Request, table: str, page: int | None) -> bool:
    if not _listing(request) or request.segments[:1] != [table]:
        return False
    try:
        return page is None or int(_fields(request).get("page") or 1) == page
    except ValueError:
        return False


def _fields(request: Request) -> dict[str, str]:
    """The body as columns: JSON, or a form as IXC's PHP client may send."""
    if not request.body:
        return {}
    if request.headers.get_content_type() == "application/x-www-form-urlencoded":
        return {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
    value = json.loads(request.body)
    if not isinstance(value, dict):
        raise ValueError("not an object")  # noqa: TRY004 - the caller answers any ValueError
    return {key: "" if item is None else str(item) for key, item in value.items()}


def _row(table: str, fields: dict[str, str]) -> dict[str, str]:
    """A full row: every column of the table, '' unless given; unknown columns are dropped."""
    return {column: fields.get(column, "") for column in COLUMNS[table]}


def _column(table: str, name: str) -> str:
    column = name.removeprefix(f"{table}.")
    if column not in COLUMNS[table]:
        raise _Refused(f"Coluna {name!r} não existe em {table}")
    return column


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _filter(
    table: str, qtype: str, oper: str, query: str | None
) -> Callable[[dict[str, str]], bool]:
    if not qtype:
        return lambda row: True
    column = _column(table, qtype)
    wanted = "" if query is None else str(query)
    if oper not in OPERATORS:
        raise _Refused(f"Operador {oper!r} inválido")
    if oper == "L":
        if "%" not in wanted and "_" not in wanted:
            wanted = f"%{wanted}%"
        like = re.compile(
            "".join({"%": ".*", "_": "."}.get(char) or re.escape(char) for char in wanted),
            re.IGNORECASE | re.DOTALL,
        )
        return lambda row: like.fullmatch(row[column]) is not None
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
    }[oper]
    wanted_number = _number(wanted)
    folded = wanted.lower()
    if wanted_number is None:  # compared as text, as MySQL compares a column to a string
        return lambda row: compare(row[column].lower(), folded)

    def matches(row: dict[str, str]) -> bool:
        value = row[column]
        number = _number(value)
        if number is not None:
            return compare(number, wanted_number)
        return compare(value.lower(), folded)

    return matches


def _error(message: str) -> Response:
    return json_response(200, {"type": "error", "message": message})


SEED: dict[str, list[dict[str, str]]] = {
    "df_projeto": [
        {"id": "1", "nome": "Centro", "status": "A"},
        {"id": "2", "nome": "Bairro Norte", "status": "A"},
    ],
    "radpop_radio": [
        {"id": "1", "descricao": "OLT Centro", "ip": "10.255.0.1", "login": "admin",
         "senha": "olt-Secret-1"},
        {"id": "2", "descricao": "OLT Norte", "ip": "10.255.0.2", "login": "admin",
         "senha": "olt-Secret-2"},
    ],
    "rad_caixa_ftth": [
        {"id": "1", "descricao": "CTO-001", "tipo": "P", "id_projeto": "1",
         "id_transmissor": "1", "capacidade": "16", "latitude": "-23.5505",
         "longitude": "-46.6333", "codigo_estilo_caixa": "50r7nh0u", "status": "A"},
    ],
    "radgrupos": [
        {"id": "1", "grupo": "Plano 100M", "upload": "50M", "download": "100M", "tipo": "I"},
        {"id": "2", "grupo": "Plano 512k", "upload": "256k", "download": "512 k", "tipo": "I"},
        {"id": "3", "grupo": "Plano 1G", "upload": "500M", "download": "1G", "tipo": "I"},
        {"id": "4", "grupo": "Telefonia", "upload": "", "download": "", "tipo": "T"},
    ],
    "cliente_contrato": [
        {"id": str(index), "id_cliente": str(index), "status": status, "status_internet": net}
        for index, (status, net) in enumerate(
            [("A", "A"), ("A", "FA"), ("A", "CM"), ("A", "CA"), ("A", "AA"), ("I", "D"),
             ("D", "D"), ("N", "CA"), ("P", "AA")],
            start=1,
        )
    ],
    "radusuarios": [
        {"id": "1", "login": "ana", "senha": "ppp-Secret-ana", "ativo": "S", "online": "S",
         "id_cliente": "1", "id_contrato": "1", "id_grupo": "1", "ip": "100.64.0.1",
         "pd_ipv6": "2001:db8:1::/56"},
        {"id": "2", "login": "bruno", "senha": "ppp-Secret-bruno", "ativo": "S", "online": "S",
         "id_cliente": "2", "id_contrato": "2", "id_grupo": "2", "ip": "100.64.0.2"},
        {"id": "3", "login": "carla", "senha": "ppp-Secret-carla", "ativo": "S", "online": "N",
         "id_cliente": "3", "id_contrato": "3", "id_grupo": "3", "ip": "100.64.0.3"},
        {"id": "4", "login": "davi", "senha": "ppp-Secret-davi", "ativo": "S", "online": "SS",
         "id_cliente": "4", "id_contrato": "4", "id_grupo": "1", "ip": "100.64.0.4"},
    ],
}
"""A small ISP: two projects, two OLTs, a box, plans in several units (and a non-Internet
one), contracts in every status, logins online, offline and in the "SS" state."""


def populate(
    ixc: IxcSimulator,
    *,
    logins: int,
    plans: int,
    contracts: int,
    online_share: float = 0.9,
    seed: int = 18,
) -> None:
    """Fill ``ixc`` with a generated ISP: ``plans`` radgrupos (in k, M and G, one in ten not
    an Internet plan), ``contracts`` contracts with every Internet status, ``logins`` logins on
    them, ``online_share`` of them online, each with a distinct IPv4 address (from
    100.64.0.0/10 on) and a delegated IPv6 prefix. The same ``seed`` gives the same ISP."""
    generator = random.Random(seed)
    units = ("k", "M", "G")
    with ixc._lock:
        for index in range(1, plans + 1):
            unit = units[index % 3]
            speed = {"k": 512, "M": 10 * index, "G": 1 + index % 10}[unit]
            ixc._insert(
                "radgrupos",
                {
                    "id": str(index),
                    "grupo": f"Plano {index} {speed}{unit}",
                    "download": f"{speed}{unit}",
                    "upload": f"{max(1, speed // 2)}{unit}",
                    "tipo": "T" if index % 10 == 0 else "I",
                },
            )
        for index in range(1, contracts + 1):
            ixc._insert(
                "cliente_contrato",
                {
                    "id": str(index),
                    "id_cliente": str(index),
                    "status": generator.choice(CONTRACT_STATUSES),
                    "status_internet": generator.choices(
                        INTERNET_STATUSES, weights=(80, 3, 3, 4, 8, 2)
                    )[0],
                },
            )
        for index in range(1, logins + 1):
            address = 0x64400000 + index  # 100.64.0.0 + index
            ip = ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))
            ixc._insert(
                "radusuarios",
                {
                    "id": str(index),
                    "login": f"cliente{index}",
                    "senha": f"ppp-{generator.getrandbits(48):012x}",
                    "ativo": "S",
                    "online": "S" if generator.random() < online_share else "N",
                    "id_cliente": str(1 + (index - 1) % max(contracts, 1)),
                    "id_contrato": str(1 + (index - 1) % max(contracts, 1)),
                    "id_grupo": str(1 + generator.randrange(max(plans, 1))),
                    "ip": ip,
                    "pd_ipv6": f"2001:db8:{index >> 8:x}:{(index & 0xFF) << 8:x}::/56",
                },
            )


def populate_fiber(
    ixc: IxcSimulator, *, projects: int = 4, transmitters: int = 0, logins: int = 0
) -> None:
    """The IXC side of :func:`tests.support.ozmap_simulator.generate_plant`: projects
    ``Projeto <n>``, transmitters with the generated OLTs' IPs, and ``logins`` active fiber
    logins ``cliente<n>``, each with its ONU (``radpop_radio_cliente_fibra``), not yet on a
    box. Straight into the tables: 50,000 logins take a second or two."""
    from tests.support.ozmap_simulator import olt_ip

    with ixc._lock:
        for number in range(projects):
            ixc._insert("df_projeto", {"nome": f"Projeto {number + 1}", "status": "A"})
        for number in range(transmitters):
            ixc._insert("radpop_radio", {"descricao": f"OLT {number + 1}", "ip": olt_ip(number)})
        users, onus = ixc.tables["radusuarios"], ixc.tables["radpop_radio_cliente_fibra"]
        first_user, first_onu = (
            ixc._next_ids["radusuarios"],
            ixc._next_ids["radpop_radio_cliente_fibra"],
        )
        for number in range(logins):
            user_id, onu_id = first_user + number, first_onu + number
            users[user_id] = _row("radusuarios", {
                "id": str(user_id), "login": f"cliente{number + 1}", "ativo": "S", "online": "S",
                "tipo_conexao_mapa": "F", "id_contrato": str(number + 1),
            })
            onus[onu_id] = _row("radpop_radio_cliente_fibra", {
                "id": str(onu_id), "id_login": str(user_id), "nome": f"ONU {number + 1}",
            })
        ixc._next_ids["radusuarios"] = first_user + logins
        ixc._next_ids["radpop_radio_cliente_fibra"] = first_onu + logins
        ixc._versions["radusuarios"] += 1
        ixc._versions["radpop_radio_cliente_fibra"] += 1
