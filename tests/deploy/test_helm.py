"""The Helm chart without helm: every non-template YAML parses, the Milvus
dependency is the official 2.6 chart in cluster mode with woodpecker, the
templates only reference values that exist, and each template's skeleton
(Go-template syntax stubbed out) is well-formed Kubernetes YAML. (``helm
lint``/``template`` run where helm is installed; nothing here renders Go
templates.)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "docker" / "helm" / "dossier"
TEMPLATES = CHART / "templates"


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded = _load(CHART / "values.yaml")
    assert isinstance(loaded, dict)
    return loaded


def test_every_non_template_yaml_parses() -> None:
    docs = [p for p in (REPO / "docker").rglob("*.y*ml") if TEMPLATES not in p.parents]
    assert CHART / "values.yaml" in docs
    assert CHART / "Chart.yaml" in docs
    for path in docs:
        assert _load(path) is not None, f"{path} is empty"


def test_milvus_is_the_official_chart_as_a_dependency() -> None:
    chart = _load(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    (dep,) = [d for d in chart["dependencies"] if d["name"] == "milvus"]
    assert dep["repository"] == "https://zilliztech.github.io/milvus-helm/"
    assert dep["condition"] == "milvus.enabled"
    assert dep["version"].startswith(">=5."), "chart 5.x is the Milvus 2.6 line"


def test_milvus_runs_distributed_with_woodpecker(values: dict[str, Any]) -> None:
    milvus = values["milvus"]
    assert milvus["cluster"]["enabled"] is True
    assert milvus["woodpecker"]["enabled"] is True
    assert milvus["streaming"]["enabled"] is True
    assert milvus["pulsarv3"]["enabled"] is False
    assert milvus["indexNode"]["enabled"] is False  # merged into the data node in 2.6
    assert milvus["image"]["all"]["tag"].startswith("v2.6.")


def test_values_cover_image_replicas_resources(values: dict[str, Any]) -> None:
    assert values["image"]["repository"]
    assert values["image"]["tag"]
    for part in ("api", "worker", "vllm"):
        assert values[part]["replicas"] >= 1, part
        assert values[part]["resources"]["requests"], part
    assert values["vllm"]["toolCallParser"] == "hermes"
    assert values["data"]["accessMode"] == "ReadWriteMany"
    assert values["catalog"]["existingSecret"], "PostgreSQL URL comes from a secret"


def test_probes_and_gpu_resources_in_templates() -> None:
    api = (TEMPLATES / "api.yaml").read_text(encoding="utf-8")
    assert re.search(r"readinessProbe:\s*\n\s*httpGet: \{path: /readyz", api)
    assert re.search(r"livenessProbe:\s*\n\s*httpGet: \{path: /healthz", api)
    assert "--no-worker" in api
    vllm = (TEMPLATES / "vllm.yaml").read_text(encoding="utf-8")
    assert "nvidia.com/gpu:" in vllm
    assert "kind: Service" in vllm
    assert "--tool-call-parser={{ .Values.vllm.toolCallParser }}" in vllm
    worker = (TEMPLATES / "worker.yaml").read_text(encoding="utf-8")
    assert '"dossier", "worker"' in worker
    assert re.search(r"readinessProbe:\s*\n\s*httpGet: \{path: /readyz, port: health\}", worker)
    assert re.search(r"livenessProbe:\s*\n\s*httpGet: \{path: /healthz, port: health\}", worker)


def test_worker_serves_its_probes_on_the_health_port(values: dict[str, Any]) -> None:
    """The probes hit a port the worker really listens on, on the pod address."""
    worker = (TEMPLATES / "worker.yaml").read_text(encoding="utf-8")
    args = re.search(r"args: \[(.*?)\]\n", worker, re.S)
    assert args is not None
    flat = " ".join(args.group(1).split())
    assert '"--health-port", {{ .Values.worker.healthPort | quote }}' in flat
    assert '"--health-host", "0.0.0.0"' in flat  # probes come from the kubelet, not localhost
    assert '"--stale-after", {{ .Values.worker.staleAfterSeconds | quote }}' in flat
    assert re.search(
        r"- name: health\s*\n\s*containerPort: \{\{ \.Values\.worker\.healthPort \}\}", worker
    )
    assert isinstance(values["worker"]["healthPort"], int)
    assert values["worker"]["healthPort"] != values["api"]["port"]
    assert values["worker"]["staleAfterSeconds"] > 0
    policy = (TEMPLATES / "networkpolicy.yaml").read_text(encoding="utf-8")
    assert "app.kubernetes.io/component: worker" in policy  # workers accept no traffic


def test_templates_reference_only_existing_values(values: dict[str, Any]) -> None:
    for template in sorted(TEMPLATES.iterdir()):
        for ref in sorted(set(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()))):
            node: Any = values
            for key in ref.split("."):
                assert isinstance(node, dict), f"{template.name}: .Values.{ref} walks into a leaf"
                assert key in node, f"{template.name}: .Values.{ref} is not in values.yaml"
                node = node[key]


_CONTROL = re.compile(r"^\s*\{\{-?\s*(if|else|end|with|range)\b.*\}\}\s*$")
_BLOCK = re.compile(r"\{\{-?\s*(include|toYaml)\b[^}]*\|\s*nindent\s+\d+\s*-?\}\}")
_EXPR = re.compile(r"\{\{-?[^}]*-?\}\}")


def _skeleton(text: str) -> str:
    """The template with Go-template syntax stubbed out: control lines
    dropped, ``| nindent`` blocks (labels, env, resources) emptied, every
    other expression a scalar. What is left must be well-formed YAML."""
    lines = []
    for line in text.splitlines():
        if _CONTROL.match(line):
            continue
        if _BLOCK.search(line):
            line = _BLOCK.sub("", line)
            if not line.strip():
                continue  # a whole-line include (env): its items are not checked
        lines.append(_EXPR.sub("X", line))
    return "\n".join(lines)


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.yaml")), ids=lambda p: p.name)
def test_template_skeletons_are_kubernetes_yaml(template: Path) -> None:
    """Catches indentation and structure errors a regex check cannot (helm is
    not installed here, so the templates are never rendered)."""
    documents = [d for d in yaml.safe_load_all(_skeleton(template.read_text())) if d]
    assert documents, template.name
    for doc in documents:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), (template.name, doc)
        if doc["kind"] in ("Deployment", "StatefulSet"):
            containers = doc["spec"]["template"]["spec"]["containers"]
            assert all("image" in c and "name" in c for c in containers)
