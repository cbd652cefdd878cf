"""``POST /identity/token``: IBM Cloud IAM's API-key grant, for our own tokens.

The API key is one of the server's tokens; the answer is a JWT (HS256) whose
``sub`` names the key by its SHA-256 and whose signature is keyed by the key
itself, so it survives restarts, needs no stored secret, and cannot be made
without the key. :class:`TokenIssuer` maps a bearer JWT back to the identity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from prefect_ibmq.wire import Identity

from .errors import IBMApiError

#: IBM's access tokens live an hour; the client refreshes at 80 % of that.
TOKEN_LIFETIME_S = 3600
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"

router = APIRouter(tags=["runtime: iam"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_id(apikey: str) -> str:
    return hashlib.sha256(apikey.encode()).hexdigest()


class TokenIssuer:
    """Issues JWTs for API keys (our tokens) and identifies bearers of them."""

    def __init__(self, tokens: dict[str, Identity]) -> None:
        self._keys = {_key_id(token): (token, identity) for token, identity in tokens.items()}

    def issue(self, apikey: str) -> dict[str, Any] | None:
        """The IAM answer for ``apikey``; None when it is not one of our tokens."""
        found = self._keys.get(_key_id(apikey))
        if found is None or not hmac.compare_digest(found[0].encode(), apikey.encode()):
            return None
        now = int(time.time())
        claims = {"sub": _key_id(apikey), "iat": now, "exp": now + TOKEN_LIFETIME_S, "iss": "prefect-ibmq"}
        return {
            "access_token": self._sign(claims, apikey),
            # The client never uses it with an apikey grant (it asks again with the key).
            "refresh_token": "not-supported",
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "expiration": claims["exp"],
            "scope": "ibm openid",
        }

    def identify(self, jwt: str) -> Identity | None:
        """The identity a valid, unexpired JWT of ours was issued to; None otherwise."""
        if not jwt.isascii():  # a signature of ours is base64url; compare_digest refuses other str
            return None
        try:
            header, payload, signature = jwt.split(".")
            claims = json.loads(_unb64(payload))
            token, identity = self._keys[claims["sub"]]
        except (ValueError, KeyError, TypeError):
            return None
        expected = self._sign_parts(header, payload, token)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)) or isinstance(expires, bool) or expires < time.time():
            return None
        return identity

    def _sign(self, claims: dict[str, Any], apikey: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims).encode())
        return f"{header}.{payload}.{self._sign_parts(header, payload, apikey)}"

    @staticmethod
    def _sign_parts(header: str, payload: str, apikey: str) -> str:
        return _b64(hmac.new(apikey.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())


@router.post("/identity/token")
async def token(request: Request) -> dict[str, Any]:
    """Form ``grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=<token>`` -> an access token."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    grant = form.get("grant_type", [""])[0]
    if grant != APIKEY_GRANT:
        raise IBMApiError(
            400, "unsupported_grant_type", f"grant_type={grant!r} is not supported; accepted: {APIKEY_GRANT!r}"
        )
    apikey = form.get("apikey", [""])[0]
    issued = request.app.state.runtime.tokens.issue(apikey) if apikey else None
    if issued is None:
        # The key is never echoed.
        raise IBMApiError(400, "BXNIM0415E", "Provided API key could not be found.")
    return issued
