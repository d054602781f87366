"""No input ever gets a 500: schemathesis generates requests from our OpenAPI document
(valid cases, broken ones, wrong types) and checks every answer."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from spinecds.config import Settings
from spinecds.service.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_app = create_app(Settings(database_url=f"sqlite:///{Path(tempfile.mkdtemp())}/audit.db"))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run: a failure reproduces
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
