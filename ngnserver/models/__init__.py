"""SQLAlchemy tables, one module per area. Import this package to get every table mapped."""

from ngnserver.models.base import Base
from ngnserver.models.customer import Customer, CustomerProperty
from ngnserver.models import audit, credit, dns, enum, sip  # noqa: E402,F401  (register the tables)

__all__ = ["Base", "Customer", "CustomerProperty"]
