"""SQLAlchemy tables, one module per area. Import this package to get every table mapped."""

from ngnserver.models import audit, credit, dns, dsl, enum, job, login, pstn, server, sip, sync  # noqa: F401  (register the tables)
from ngnserver.models.base import Base
from ngnserver.models.customer import Customer, CustomerProperty, ResellerSize

__all__ = ["Base", "Customer", "CustomerProperty", "ResellerSize"]
