"""Sync calls of the async flows (``prefect_ibmq.syncable``) share one loop and Prefect's clients across calls."""

from __future__ import annotations

from typing import Any

from prefect.client.orchestration import get_client

from prefect_ibmq.syncable import SyncCallableFlow


async def _clients() -> tuple[Any, Any]:
    """The async and the sync Prefect client a flow run finds (Prefect's engine asks for both)."""
    return get_client(), get_client(sync_client=True)


clients_flow = SyncCallableFlow(fn=_clients, name="which-prefect-clients")


def test_sync_calls_reuse_the_async_and_the_sync_prefect_client():
    first, second = clients_flow(), clients_flow()
    # The sync one too: Prefect's flow engine reads the default result storage with it, and a
    # new one per run cost a TLS context and a connection each time.
    assert first[0] is second[0] and first[1] is second[1]
