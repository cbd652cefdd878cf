"""The runtime API's part of the server configuration: instances (region, name, plan limit).

``ServerConfig.runtime`` holds a :class:`RuntimeSettings`; in a TOML config file::

    [runtime]
    default_usage_limit_s = 600          # every instance: 10 quantum minutes per period

    [[runtime.instances]]
    project = "ibm-q/open/main"
    name = "my-instance"                 # what QiskitRuntimeService(instance=...) may name
    region = "eu-de"
    usage_limit_s = 60

This module imports nothing of the server, so ``server.config`` can import it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The regions of IBM Quantum Platform (the stock client accepts these two).
Region = Literal["us-east", "eu-de"]
DEFAULT_REGION: Region = "us-east"
#: IBM's usage period: a 28-day rolling window (the Open Plan's).
DEFAULT_PERIOD_DAYS = 28


class InstanceSpec(BaseModel):
    """One project's instance: its name, region and plan limit (unset fields take the defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The project, ``hub/group/project`` as in the tokens' identities.
    project: str
    #: The instance name clients may use instead of its CRN (default: the project).
    name: str | None = Field(None, min_length=1, max_length=200)
    region: Region | None = None
    #: Quantum seconds per period; None: the default limit.
    usage_limit_s: float | None = Field(None, gt=0)

    @field_validator("project")
    @classmethod
    def _three_parts(cls, value: str) -> str:
        parts = value.split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"project must be 'hub/group/project', not {value!r}")
        return value


class RuntimeSettings(BaseModel):
    """The Qiskit Runtime API's instances: regions, names, plan limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instances: list[InstanceSpec] = Field(default_factory=list)
    default_region: Region = DEFAULT_REGION
    #: Every instance's plan limit unless its entry sets one; None: unlimited (usage is still counted).
    default_usage_limit_s: float | None = Field(None, gt=0)
    #: The plan period usage is counted over, ending now.
    usage_period_days: int = Field(DEFAULT_PERIOD_DAYS, ge=1, le=366)

    @model_validator(mode="after")
    def _unique(self) -> RuntimeSettings:
        for what, values in (
            ("project", [spec.project for spec in self.instances]),
            ("name", [spec.name for spec in self.instances if spec.name]),
        ):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"runtime.instances: each {what} may appear once; repeated: {repeated}")
        return self
