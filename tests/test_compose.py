"""Static checks of docker-compose.yml, Dockerfile and .dockerignore: no Docker engine is
needed, so a broken stack definition fails here instead of at `docker compose up`."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from temporalio.common import SearchAttributeIndexedValueType

from adapters.carrier_simulator import carrier_key
from api.health import router as health_router
from oms.config.auth import parse_api_keys
from oms.config.settings import Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("api", "worker", "carrier")
PINNED_SERVICES = {
    "postgresql": "postgres",
    "temporal": "temporalio/auto-setup",
    "temporal-ui": "temporalio/ui",
    "temporal-setup": "temporalio/admin-tools",
}
# The Temporal CLI's spelling of each indexed value type.
CLI_TYPES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def with_defaults(value: Any) -> str:
    """The value as compose sees it when no variable is set: `${X:-d}` becomes `d`."""

    def default(match: re.Match[str]) -> str:
        assert match["default"] is not None, f"{match[0]} has no default"
        return match["default"]

    return INTERPOLATION.sub(default, str(value))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: with_defaults(value) for key, value in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    value = service.get("command") or []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host, container) pairs from both the short and the long port syntax."""
    pairs = set()
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        assert len(parts) >= 2, f"port {port!r} is not published on a fixed host port"
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in value.items()}


def healthcheck(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test")
    assert test, "no healthcheck"
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


def test_services_exist(services: dict[str, Any]) -> None:
    expected = {"postgresql", "temporal", "temporal-setup", "temporal-ui", "worker", "api"}
    assert expected <= services.keys()


@pytest.mark.parametrize(("service", "repository"), PINNED_SERVICES.items())
def test_infrastructure_images_are_pinned(
    services: dict[str, Any], service: str, repository: str
) -> None:
    image = services[service]["image"]
    assert "$" not in image, "the tag must be visible here, not come from the environment"
    name, _, tag = image.rpartition(":")
    assert "/" not in tag and name == repository, f"{image} has no tag"
    assert tag and tag != "latest"


def test_server_versions(services: dict[str, Any]) -> None:
    assert services["postgresql"]["image"] == "postgres:16"
    assert re.fullmatch(r"1\.[23]\d(\.\d+)?", services["temporal"]["image"].split(":")[1])
    # admin-tools tags start with the server version they ship with.
    server_tag = services["temporal"]["image"].split(":")[1]
    assert services["temporal-setup"]["image"].split(":")[1].startswith(server_tag)


def test_published_ports(services: dict[str, Any]) -> None:
    assert (7233, 7233) in published_ports(services["temporal"])
    assert (8233, 8080) in published_ports(services["temporal-ui"])
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert (8000, 8000) in published_ports(services["api"])


def test_no_two_services_publish_the_same_host_port(services: dict[str, Any]) -> None:
    hosts = [host for svc in services.values() for host, _ in published_ports(svc)]
    assert len(hosts) == len(set(hosts))


def test_worker_is_scalable(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports")
    assert "hostname" not in worker


def test_oms_variables_are_settings_fields(services: dict[str, Any]) -> None:
    seen = 0
    for name, service in services.items():
        for key in environment(service):
            if key.startswith("OMS_"):
                seen += 1
                field = key.removeprefix("OMS_").lower()
                assert field in Settings.model_fields, f"{name}: {key} is not a setting"
    assert seen, "no OMS_* variables found"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_settings_validate(services: dict[str, Any], service: str) -> None:
    env = environment(services[service])
    values = {k.removeprefix("OMS_").lower(): v for k, v in env.items() if k.startswith("OMS_")}
    settings = Settings(**values)
    assert settings.resolved_temporal_address == "temporal:7233"
    url = urlsplit(settings.resolved_database_url)
    assert url.scheme == "postgresql+psycopg"
    assert url.hostname == "postgresql" and url.port == 5432 and url.path == "/oms"


def test_api_is_reachable_as_configured(services: dict[str, Any]) -> None:
    api = services["api"]
    env = environment(api)
    args = command(api)
    # api.serve runs uvicorn on OMS_API_HOST:OMS_API_PORT with the settings' limits.
    assert args == ["python", "-m", "api.serve"]
    assert env["OMS_API_HOST"] == "0.0.0.0"
    assert env["OMS_API_PORT"] == "8000"


def test_the_simulated_carrier_posts_to_the_api_with_a_carrier_key(
    services: dict[str, Any],
) -> None:
    carrier = services["carrier"]
    env = environment(carrier)
    assert command(carrier) == ["python", "-m", "adapters.carrier_simulator"]
    assert depends_on(carrier)["api"] == "service_healthy"
    # Its webhooks go to the api service, signed with a key the API knows as the carrier's.
    assert env["OMS_API_URL"] == "http://api:8000"
    assert "OMS_CARRIER_DELAY_S" in env
    assert env["OMS_API_KEYS"] == environment(services["api"])["OMS_API_KEYS"]
    values = {k.removeprefix("OMS_").lower(): v for k, v in env.items() if k.startswith("OMS_")}
    assert carrier_key(Settings(**values)) == "dev-carrier-key"


def test_default_api_keys_parse(services: dict[str, Any]) -> None:
    raw = services["api"]["environment"]["OMS_API_KEYS"]
    assert raw.startswith("${OMS_API_KEYS:-"), "the keys must be overridable from the shell"
    principals = parse_api_keys(with_defaults(raw))
    roles = {principal.role for principal in principals.values()}
    assert {"operator", "customer"} <= roles


def test_worker_command(services: dict[str, Any]) -> None:
    assert command(services["worker"]) == ["python", "-m", "workers.main"]


def test_api_healthcheck_hits_a_real_route(services: dict[str, Any]) -> None:
    check = healthcheck(services["api"])
    assert "127.0.0.1:8000/health" in check or "localhost:8000/health" in check
    assert "/health" in {route.path for route in health_router.routes}


def test_startup_order(services: dict[str, Any]) -> None:
    assert "pg_isready" in healthcheck(services["postgresql"])
    assert depends_on(services["temporal"])["postgresql"] == "service_healthy"
    assert "temporal" in depends_on(services["temporal-setup"])
    api_deps = depends_on(services["api"])
    assert api_deps["postgresql"] == "service_healthy"
    # Workflows set the search attributes, so nothing may start before they exist.
    assert api_deps["temporal-setup"] == "service_completed_successfully"
    assert depends_on(services["worker"])["api"] == "service_healthy"


def test_postgres_creates_the_oms_database(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    postgres = services["postgresql"]
    volumes = [str(volume) for volume in postgres["volumes"]]
    named = {volume.split(":")[0] for volume in volumes if not volume.startswith((".", "/"))}
    assert named and named <= set(compose.get("volumes") or {}), "data needs a named volume"

    init_mounts = [v for v in volumes if ":/docker-entrypoint-initdb.d/" in v]
    assert init_mounts, "no init script mounted"
    script = (ROOT / init_mounts[0].split(":")[0]).read_text()
    url = urlsplit(environment(services["api"])["OMS_DATABASE_URL"])
    assert re.search(rf"CREATE DATABASE {url.path.lstrip('/')}\b", script)
    assert re.search(rf"CREATE ROLE {url.username} LOGIN PASSWORD '{url.password}'", script)

    temporal = environment(services["temporal"])
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["POSTGRES_USER"] == environment(postgres)["POSTGRES_USER"]
    assert temporal["POSTGRES_PWD"] == environment(postgres)["POSTGRES_PASSWORD"]


def test_search_attributes_match_the_workflows(services: dict[str, Any]) -> None:
    script = " ".join(command(services["temporal-setup"]))
    creates = re.findall(r"search-attribute create [^\n]*", script)
    assert creates and all("--address temporal:7233" in line for line in creates)
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    expected = {key.name: CLI_TYPES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    assert registered == expected
    assert "already exists" in script, "re-running compose must tolerate registered attributes"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_build_the_dockerfile(services: dict[str, Any], service: str) -> None:
    build = services[service]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / build["context"]).resolve()
    assert context == ROOT
    assert (context / build.get("dockerfile", "Dockerfile")).is_file()


def test_dockerfile_installs_the_project() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert re.fullmatch(r"FROM python:3\.11(-slim)?", instructions[0])
    # From the pinned constraints, as `make run` and `make test` install.
    assert any(
        re.search(r"pip install (--no-cache-dir )?-c constraints\.txt \.(\s|$)", i)
        for i in instructions
    )
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must run unprivileged"


def test_dockerignore_keeps_what_pip_install_needs() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    needed = ["pyproject.toml", pyproject["project"]["readme"], *packages]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, pattern.lstrip("/")) for pattern in patterns)

    assert not [path for path in needed if ignored(path)]
    assert ignored(".venv") and ignored(".git")
