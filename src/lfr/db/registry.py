"""Imports every model module so that ``Base.metadata`` knows every table.

Alembic's environment and the schema tests import this module. An area that adds models
adds one import line here.
"""

from lfr.db import audit_log as audit_models
from lfr.db import cameras as camera_models
from lfr.db import fleet as fleet_models
from lfr.db import governance as governance_models
from lfr.db import leases as lease_models
from lfr.db import people as people_models
from lfr.db import reports as reports_models
from lfr.db import web_sessions as web_models
from lfr.db.base import Base

metadata = Base.metadata

__all__ = [
    "audit_models",
    "camera_models",
    "fleet_models",
    "governance_models",
    "lease_models",
    "metadata",
    "people_models",
    "reports_models",
    "web_models",
]
