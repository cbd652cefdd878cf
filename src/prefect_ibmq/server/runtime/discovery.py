"""The two IBM Cloud calls the client makes to resolve an instance CRN: Global Search and Global Catalog.

Point the client at them with ``GLOBAL_SEARCH_URL=<base>`` and
``GLOBAL_CATALOG_URL=<base>`` + :data:`CATALOG_PREFIX`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from prefect_ibmq.wire import Identity

from .crn import PLAN_ID, PLAN_NAME
from .deps import runtime_identity, runtime_jobs
from .errors import not_found
from .service import RuntimeJobs

#: Where Global Catalog entries are served (GLOBAL_CATALOG_URL = base + this).
CATALOG_PREFIX = "/global-catalog/api/v1"

router = APIRouter(tags=["runtime: discovery"])


@router.post("/v3/resources/search")
def search(
    who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """The caller's one instance (whatever the query: this service has only quantum instances).

    Its CRN carries its region (the client's ``region=`` filter reads it) and its name is what
    ``QiskitRuntimeService(instance="<name>")`` is matched against.
    """
    instance = runtime.instance(who)
    item = {
        "crn": instance.crn,
        "name": instance.name,
        "service_plan_unique_id": PLAN_ID,
        "tags": [],
        # The client drops instances whose extensions are empty ("no backend allocation").
        "doc": {"extensions": {"quantum": {"backends": "all"}}},
    }
    return {"items": [item], "search_cursor": None, "limit": 100}


@router.get(CATALOG_PREFIX + "/{entry_id}")
def catalog_entry(entry_id: str, who: Identity = Depends(runtime_identity)) -> dict[str, Any]:
    """The service plan's catalog entry (what the stock client asks for its instance's plan)."""
    if entry_id != PLAN_ID:
        raise not_found(f"catalog entry {entry_id!r}")
    return {
        "id": PLAN_ID,
        "name": PLAN_NAME.lower(),
        "overview_ui": {"en": {"display_name": PLAN_NAME, "description": "prefect-ibmq local job service"}},
        "metadata": {"pricing": {"type": "free"}},
    }
