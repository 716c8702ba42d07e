"""SQLAlchemy tables, one module per area. Import this package to get every table mapped."""

from ngnserver.models import (  # noqa: F401  (register the tables)
    audit,
    credit,
    dns,
    dsl,
    enum,
    job,
    login,
    ozmap,
    prepaid,
    pstn,
    rating,
    server,
    sip,
    sip_settings,
    sync,
    voicemail,
)
from ngnserver.models.base import Base
from ngnserver.models.customer import Customer, CustomerProperty, ResellerSize

__all__ = ["Base", "Customer", "CustomerProperty", "ResellerSize"]
