"""The store's id: a random name kept in the server's data folder, the same for every run of a server on it.

Clients name the service by it, not by its address (the embedded default's port
changes every run), so a result cached under it is found again by a new process.
"""

from __future__ import annotations

import uuid
from pathlib import Path

STORE_ID_FILE = "store_id"


def store_id(data_dir: Path) -> str:
    """The id kept in ``data_dir``, made on first use (two servers starting at once agree on one)."""
    path = data_dir / STORE_ID_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:  # exclusive: the first writer's id wins
            file.write(uuid.uuid4().hex)
    except FileExistsError:
        pass
    return path.read_text(encoding="utf-8").strip()
