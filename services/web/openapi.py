"""python -m services.web.openapi > services/web/openapi.json

The API's schema as the repository keeps it: a test fails when the code's
schema differs, so every change of the API is a deliberate one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI

from shared.config.model import WardenConfig


def schema() -> dict[str, Any]:
    from services.web.app import create_app
    from services.web.backend import Backend

    # The schema depends on the routes only, never on a backend's state.
    app: FastAPI = create_app(Backend.__new__(Backend))
    return app.openapi()


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    WardenConfig()  # fail here, not halfway through the output, if the models do not load
    sys.stdout.write(render())
