"""The second wire: XML-RPC at ``<endpoint>xmlrpc`` for scripts (Python's xmlrpc.client,
PHP), serving the same operations of the same ports as SOAP, named ``Port.operation``.

Knows XML-RPC, HTTP Basic and the spyne type declarations; knows nothing of customers. A
call decodes into the same ``soap.endpoint.Call`` the SOAP endpoint makes, so the
application runs both alike (login, transaction, metrics, logging).
"""
