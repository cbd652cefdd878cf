"""Bearer tokens to identities, and who may see or change a job."""

from __future__ import annotations

import hmac
from typing import Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from prefect_ibmq.wire import ErrorCode, Identity

from .errors import ApiError

# auto_error=False: a missing header must answer our ErrorBody, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="a token from the server's config")


class TokenTable:
    """Looks tokens up in constant time per entry, so timing reveals no prefix."""

    def __init__(self, tokens: dict[str, Identity]) -> None:
        self._entries = [(token.encode(), identity) for token, identity in tokens.items()]

    def identify(self, token: str) -> Identity | None:
        """The identity whose token this is, or None (compared in constant time)."""
        given = token.encode()
        found = None
        for known, identity in self._entries:
            # Compare against every entry (no early exit) to keep timing flat.
            if hmac.compare_digest(known, given):
                found = identity
        return found


def current_identity(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Identity:
    """FastAPI dependency: the caller's identity, or 401 (the token is never echoed)."""
    table: TokenTable = request.app.state.tokens
    identity = table.identify(credentials.credentials) if credentials else None
    if identity is None:
        reason = "missing bearer token" if credentials is None else "unknown bearer token"
        raise ApiError(
            401, ErrorCode.UNAUTHORIZED, f"{reason}: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


class Owned(Protocol):
    """What deciding who may see a job reads: a ``JobRecord``, or the lighter ``rows.StatusRow``."""

    @property
    def owner(self) -> Identity:
        """Who submitted the job."""
        ...

    @property
    def share_level(self) -> str:
        """Who else may see it: global, hub, group, project or none."""
        ...


def is_owner(job: Owned, who: Identity) -> bool:
    """Whether ``who`` owns ``job`` (only the owner may change it)."""
    return job.owner == who


def can_see(job: Owned, who: Identity) -> bool:
    """The owner always; others as the share level allows (mirrors filters.visible_to)."""
    if is_owner(job, who):
        return True
    owner, level = job.owner, job.share_level
    if level == "global":
        return True
    if level == "hub":
        return owner.hub == who.hub
    if level == "group":
        return (owner.hub, owner.group) == (who.hub, who.group)
    if level == "project":
        return (owner.hub, owner.group, owner.project) == (who.hub, who.group, who.project)
    return False
