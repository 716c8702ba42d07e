"""Ports: one spyne service class per NGNPro port namespace, and the lookup that dispatches
an operation element by its namespace-qualified name (``addAccount`` exists in several
ports, so the local name alone never decides)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from spyne import Application
    from spyne.protocol.soap import Soap11


@dataclass(frozen=True)
class Operation:
    """One operation of a port, read from its spyne method descriptor."""

    port: Port
    name: str
    params: tuple[tuple[str, Any], ...]  # (part name, spyne type), in order
    result: tuple[str, Any] | None  # (part name, spyne type), None for a void operation
    function: Any  # the service function, called as function(ctx, *args)
    # False for operations that answer without a caller or the database (their service
    # class says ``login_required = False``); they are called with ctx None
    login_required: bool = True

    @property
    def is_read_only(self) -> bool:
        return self.name.startswith("get")


@dataclass(frozen=True)
class Port:
    """An NGNPro port: ``name`` is the short name ("Customer"), ``namespace`` its URN."""

    name: str
    namespace: str
    service: type | tuple[type, ...]
    operations: dict[str, Operation] = field(default_factory=dict, compare=False)

    @classmethod
    def build(cls, name: str, namespace: str, service: type | tuple[type, ...]) -> Port:
        """The port served by ``service``, or by several service classes together (one per
        area of a large port, such as SIP records and PSTN routing in the Sip port)."""
        port = cls(name, namespace, service)
        services = list(service) if isinstance(service, tuple) else [service]
        # spyne's Application is used for what it does well: reading the @rpc declarations.
        app = Application(services, tns=namespace, in_protocol=Soap11(), out_protocol=Soap11())
        for descriptors in app.interface.service_method_map.values():
            d = descriptors[0]
            params = tuple(d.in_message._type_info.items())
            results = list(d.out_message._type_info.items())
            port.operations[d.name] = Operation(
                port=port,
                name=d.name,
                params=params,
                result=results[0] if results else None,
                function=d.function,
                login_required=getattr(d.service_class, "login_required", True),
            )
        return port


class PortMap:
    """Every port the endpoint serves, and the operation lookup."""

    def __init__(self, ports: Iterable[Port], aliases: dict[str, tuple[str, str]] | None = None) -> None:
        self.ports: Sequence[Port] = tuple(ports)
        self._by_qname = {
            f"{{{p.namespace}}}{op.name}": op for p in self.ports for op in p.operations.values()
        }
        # un-namespaced names that some clients send: local name -> (port name, operation)
        by_name = {p.name: p for p in self.ports}
        self._aliases = {
            local: by_name[port].operations[op] for local, (port, op) in (aliases or {}).items()
        }

    def named(self, name: str) -> Operation | None:
        """The operation ``Port.operation`` names (``Sip.addAccount``), or None."""
        port, _, operation = name.partition(".")
        found = next((p for p in self.ports if p.name == port), None)
        return found.operations.get(operation) if found else None

    def names(self) -> list[str]:
        """Every operation as ``Port.operation``, in port order."""
        return [f"{p.name}.{op}" for p in self.ports for op in p.operations]

    def resolve(self, tag: str) -> Operation | None:
        """The operation an element tag (``{ns}local`` or ``local``) names, or None."""
        op = self._by_qname.get(tag)
        if op is not None:
            return op
        if tag.startswith("{"):
            return None
        return self._aliases.get(tag)
