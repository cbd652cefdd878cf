"""Fixtures of the job service's tests: one API client per identity of tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server.helpers import Api


@pytest.fixture
def tokens(job_server) -> dict[str, str]:
    """user name -> token, from the session server's config."""
    return {identity.user: token for token, identity in job_server.config.tokens.items()}


def _api(job_server, tokens, user) -> Iterator[Api]:
    api = Api(job_server.url, tokens[user])
    yield api
    api.cancel_all()


@pytest.fixture
def alice(job_server, tokens) -> Iterator[Api]:
    yield from _api(job_server, tokens, "alice")


@pytest.fixture
def bob(job_server, tokens) -> Iterator[Api]:
    yield from _api(job_server, tokens, "bob")


@pytest.fixture
def carol(job_server, tokens) -> Iterator[Api]:
    yield from _api(job_server, tokens, "carol")


@pytest.fixture
def dave(job_server, tokens) -> Iterator[Api]:
    yield from _api(job_server, tokens, "dave")


@pytest.fixture
def anonymous(job_server) -> Api:
    return Api(job_server.url, None)
