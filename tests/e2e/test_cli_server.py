"""``dossier keys|audit|summarize|serve`` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import GAINSCO, free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _dossier(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})  # fmt: skip


def test_keys_serve_audit_and_summarize(tmp_path: Path) -> None:
    kb = str(tmp_path / "kb")
    made = _dossier("--kb", kb, "keys", "create", "--tenant", "acme", "--role", "admin", "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout.strip().splitlines()[-1])
    assert key["tenant"] == "acme"
    assert key["role"] == "admin"
    assert key["key"].startswith("dsk_")
    listed = json.loads(
        _dossier("--kb", kb, "keys", "list", "--tenant", "acme", "--json").stdout.splitlines()[-1]
    )
    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0]

    port = free_port()
    env = {"DOSSIER_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "api", "serve", "--kb", kb, "--port", str(port)],
                              cwd=REPO, env={**os.environ, **env}, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "serve exited"
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {key['key']}"}
        hits = httpx.post(base + "/v1/search", json={"query": "governing law"}, headers=headers)
        assert hits.status_code == 200
        assert hits.json() == []
    finally:
        server.terminate()
        server.wait(timeout=60)

    revoked = _dossier("--kb", kb, "keys", "revoke", key["id"], "--json")
    assert json.loads(revoked.stdout.splitlines()[-1]) == {"revoked": key["id"]}
    exported = _dossier("--kb", kb, "audit", "--tenant", "acme", "--since", "2000-01-01", "--json")
    lines = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert [e["action"] for e in lines] == ["search"]
    assert lines[0]["detail"]["query"] == "governing law"

    out = tmp_path / "out"
    summary = _dossier(
        "--kb", kb, "--tenant", "acme", "summarize", str(GAINSCO), "--out", str(out), "--json"
    )
    assert summary.returncode == 0, summary.stderr
    result = json.loads(summary.stdout.splitlines()[-1])
    (doc,) = result["documents"]
    assert Path(doc["markdown"]).read_text().startswith(f"# {GAINSCO.name}")
    assert "[^1]:" in (out / "digest.md").read_text()
    assert json.loads(Path(doc["json"]).read_text())["citations"]
