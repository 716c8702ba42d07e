"""SQLAlchemy tables, one module per area. Import this package to get every table mapped."""

from ngnserver.models.base import Base
from ngnserver.models.customer import Customer, CustomerProperty

__all__ = ["Base", "Customer", "CustomerProperty"]
