"""The storage layer without functions of its own; DSL data under the model's names

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00

- ``ngn_refuse()`` and ``ngn_caller_changed()`` (migrations 0006 and 0007, PostgreSQL) go:
  nothing calls them since statements are plain SQLAlchemy ones again.
- The DSL port stored what clients sent under the wire's member names (``addressLine1``,
  ``vendorOrderId``, ...) where every other port stores model attribute names: a
  qualification's ``address`` and the change history of DSL packages, qualifications and
  services now use attribute names too (``address_line1``, ``vendor_order_id``, ...).
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ATTRIBUTES = {
    "addressLine1": "address_line1", "unitType": "unit_type", "unitValue": "unit_value",
    "zipCode": "zip_code", "phoneNumber": "phone_number", "loopType": "loop_type",
    "firstName": "first_name", "lastName": "last_name", "companyName": "company_name",
    "contactPhone": "contact_phone", "ispPrevious": "isp_previous", "currentProvider": "current_provider",
    "orderType": "order_type", "vendorOrderId": "vendor_order_id", "vendorOrderStatus": "vendor_order_status",
    "vendorUsername": "vendor_username", "package": "package_id", "qualification": "qualification_id",
    "ispChange": "isp_change", "desiredDueDate": "desired_due_date", "expireDate": "expire_date",
    "vendorPackageId": "vendor_package_id", "import": "vendor_order_id",
}  # fmt: skip
DSL_KINDS = ("dsl_package", "dsl_qualification", "dsl_service")

qualifications = sa.table("dsl_qualifications", sa.column("id", sa.Integer), sa.column("address", sa.JSON))
history = sa.table("audit_log", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                   sa.column("changes", sa.JSON))  # fmt: skip


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {names.get(key, key): _renamed(item, names) for key, item in value.items()}
    return value


def _rename(names: dict[str, str]) -> None:
    """Rename the keys in the rows (run against a database; printed SQL has no rows to read)."""
    if op.get_context().as_sql:
        return
    bind = op.get_bind()
    for row_id, address in bind.execute(sa.select(qualifications.c.id, qualifications.c.address)).all():
        bind.execute(qualifications.update().where(qualifications.c.id == row_id).values(address=_renamed(address, names)))
    rows = bind.execute(sa.select(history.c.id, history.c.changes).where(history.c.kind.in_(DSL_KINDS))).all()
    for row_id, changes in rows:
        bind.execute(history.update().where(history.c.id == row_id).values(changes=_renamed(changes, names)))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ngn_refuse(text)")
        op.execute("DROP FUNCTION IF EXISTS ngn_caller_changed()")
    _rename(ATTRIBUTES)


def downgrade() -> None:
    _rename({attribute: wire for wire, attribute in ATTRIBUTES.items() if wire != "import"})
