from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.req("R17")
def test_the_production_settings_pass_djangos_deployment_check(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDMS_")}
    env.update(
        SIDMS_HTTPS="true",
        SIDMS_DATA_DIR=str(tmp_path),
        SIDMS_SECRET_KEY="x" * 10 + "-Weihai-sidms-deploy-check-key-0123456789abcdefghijklmnop",
        SIDMS_ALLOWED_HOSTS="sidms.whrss.internal",
    )
    done = subprocess.run(
        [sys.executable, "-m", "sidms.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
