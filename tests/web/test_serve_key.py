"""``dossier serve --sign-in-key``: the admin key it prints signs in to the web app."""

from __future__ import annotations

from pathlib import Path

import api.cli  # noqa: F401  (imports api.cli_server in the order the CLI does)
from api.cli_server import _web_sign_in_key
from core.settings import load_settings
from knowledge_base.catalog import Catalog


def test_serve_sign_in_key_is_a_working_admin_key_of_the_tenant(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "kb", tenant="demo")
    settings.data_dir.mkdir(parents=True)
    key = _web_sign_in_key(settings)
    catalog = Catalog(settings.catalog_url, settings.files_dir)
    try:
        record = catalog.verify_api_key(key)
    finally:
        catalog.close()
    assert record is not None
    assert (record.tenant, record.role) == ("demo", "admin")
