"""Prefect's standard checks on every block of prefect_ibmq (description, docs URL, field docs, a .load() example)."""

from __future__ import annotations

import pytest
from prefect.blocks.core import Block
from prefect.client.schemas.objects import BlockType
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect.utilities.dispatch import get_registry_for_type
from prefect.utilities.importtools import to_qualified_name

from prefect_ibmq.blocks import IBMQJobBlock, IBMQServiceCredentials, IBMQuantumPlatformCredentials


def our_blocks() -> list[type[Block]]:
    registry = get_registry_for_type(Block) or {}
    return sorted(
        (
            block
            for block in registry.values()
            if to_qualified_name(block).startswith("prefect_ibmq.")
            # JobBlock[Result], the base IBMQJobBlock parametrizes, is registered under our module too.
            and not block.__pydantic_generic_metadata__.get("origin")
        ),
        key=lambda block: block.__name__,
    )


def test_every_block_is_checked() -> None:
    assert set(our_blocks()) == {IBMQJobBlock, IBMQServiceCredentials, IBMQuantumPlatformCredentials}


@pytest.mark.parametrize("block", our_blocks(), ids=lambda block: block.__name__)
class TestAllBlocksAdhereToStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        # The standard check downloads the logo; this machine is offline and tests fetch nothing.
        # What can be checked here: there is a logo, and Prefect's block type (as registered) accepts its URL.
        assert block._logo_url
        block_type = block._to_block_type()
        assert isinstance(block_type, BlockType)
        assert str(block_type.logo_url).startswith("https://")
        assert str(block_type.documentation_url).startswith("https://")
