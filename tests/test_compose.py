"""Static checks of docker-compose.yml, Dockerfile and .dockerignore: no Docker engine is
needed, so a broken stack definition fails here instead of at `docker compose up`."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from temporalio.common import SearchAttributeIndexedValueType
from typer.core import TyperGroup

from adapters.carrier_simulator import carrier_key
from api.health import router as health_router
from oms.config.auth import parse_api_keys
from oms.config.settings import Settings
from store.db import create_engine
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("api", "worker", "carrier", "relay", "intake")
# Services `docker compose up --scale` may run several of.
SCALABLE_SERVICES = ("worker", "relay", "intake")
# The services that run an `oms` subcommand, by its name.
OMS_COMMAND_SERVICES = ("relay", "intake")
PINNED_SERVICES = {
    "postgresql": "postgres",
    "temporal-schema": "temporalio/admin-tools",
    "temporal": "temporalio/server",
    "temporal-ui": "temporalio/ui",
    "temporal-setup": "temporalio/admin-tools",
    "nats": "nats",
}
# Where temporalio/admin-tools keeps the PostgreSQL schemas, by the server's database setting.
SCHEMA_DIR = "/etc/temporal/schema/postgresql/v12"
SCHEMA_DIRS = {
    "DBNAME": f"{SCHEMA_DIR}/temporal/versioned",
    "VISIBILITY_DBNAME": f"{SCHEMA_DIR}/visibility/versioned",
}
NATS_CLIENT_PORT = 4222  # nats-server's default; the service sets no other
POSTGRES_RESERVED_CONNECTIONS = 3  # superuser_reserved_connections' default
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


def image_tag(service: dict[str, Any]) -> str:
    return service["image"].rpartition(":")[2]


def flag(args: list[str], *names: str) -> str | None:
    """The value after the first of `names` in `args`, or None when none is there."""
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            return args[index + 1]
    return None


def shell_script(service: dict[str, Any]) -> str:
    """A one-shot's shell script as its container runs it: compose has turned `$$` into `$`
    (and would have interpolated any other `$`, so there must be none)."""
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    (text,) = service["command"]
    assert "$" not in text.replace("$$", ""), "a lone $ would be interpolated by compose"
    return text.replace("$$", "$")


def run_script(
    service: dict[str, Any], tmp_path: Path, stubs: dict[str, str], **env: str
) -> subprocess.CompletedProcess[str]:
    """Runs the one-shot's script with `sh`, the tools it calls replaced by Python stubs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, code in stubs.items():
        stub = bin_dir / name
        stub.write_text(f"#!{sys.executable}\n{code}")
        stub.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["sh", "-c", shell_script(service)],
        env={**environment(service), **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
    )


def take_calls(log: Path) -> list[list[str]]:
    """The calls the stubs logged since the last time, oldest first."""
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


# temporal-sql-tool as far as the schema step uses it: a database is a directory, its
# schema version a file. `--db` is a global flag, so it must come before the subcommand.
SQL_TOOL_STUB = """
import json, os, sys
from pathlib import Path

state = Path(os.environ["STUB_STATE"])
args = sys.argv[1:]
with (state / "calls.log").open("a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:1] != ["--db"] or len(args) < 3:
    sys.exit("--db must come before the subcommand")
db, subcommand, rest = args[1], args[2], args[3:]
database, version = state / db, state / db / "version"
if subcommand == "create-database":
    database.mkdir(exist_ok=True)
elif not database.is_dir():
    sys.exit(f"database {db} does not exist")
elif subcommand == "setup-schema":
    if rest != ["-v", "0.0"]:
        sys.exit(f"unexpected setup-schema arguments {rest}")
    if not version.exists():
        version.write_text("0.0")
elif subcommand == "update-schema":
    if not version.exists():
        sys.exit("error reading current schema version: relation schema_version does not exist")
    if (database / "broken").exists():
        sys.exit("error executing statement")
    if rest[:1] != ["-d"] or len(rest) != 2:
        sys.exit(f"unexpected update-schema arguments {rest}")
    (database / "schema").write_text(rest[1])
    version.write_text("latest")
else:
    sys.exit(f"unknown subcommand {subcommand}")
"""

# The temporal CLI as far as temporal-setup uses it; STUB_REFUSE names an attribute the
# server refuses for another reason than its being there already.
TEMPORAL_CLI_STUB = """
import json, os, sys
from pathlib import Path

state = Path(os.environ["STUB_STATE"])
args = sys.argv[1:]
with (state / "calls.log").open("a") as log:
    log.write(json.dumps(args) + "\\n")

def option(name):
    return args[args.index(name) + 1]

if args[:3] == ["operator", "cluster", "health"]:
    sys.exit(0)
namespace = state / ("namespace-" + option("--namespace"))
if args[:3] == ["operator", "namespace", "create"]:
    if namespace.exists():
        sys.exit("Namespace already exists.")
    namespace.write_text(option("--retention"))
elif args[:3] == ["operator", "search-attribute", "list"]:
    sys.exit(0 if namespace.exists() else "Namespace not found.")
elif args[:3] == ["operator", "search-attribute", "create"]:
    name = option("--name")
    attribute = state / ("attribute-" + name)
    if name == os.environ.get("STUB_REFUSE"):
        sys.exit(f"Unable to create search attribute {name}: invalid type.")
    if attribute.exists():
        sys.exit(f"Search attribute {name} already exists.")
    attribute.write_text(option("--type"))
else:
    sys.exit(f"unknown command {args}")
"""

needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="no sh to run the script with")


def test_services_exist(services: dict[str, Any]) -> None:
    expected = {"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui"}
    expected |= {"nats", "api", "worker", "relay", "intake", "carrier"}
    assert expected <= services.keys()


def test_no_auto_setup_image() -> None:
    """Temporal no longer builds temporalio/auto-setup; the server image and an explicit
    schema step replace it."""
    assert "temporalio/auto-setup" not in COMPOSE_FILE.read_text()


def test_every_image_is_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if "image" not in service:
            assert "build" in service, f"{name} has neither an image nor a build"
            continue
        image = service["image"]
        assert "auto-setup" not in image
        assert "$" not in image, f"{name}: the tag must be visible here"
        repository, _, tag = image.rpartition(":")
        assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.match(r"\d", tag), f"{name}: {image} is not a version"


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
    # A maintained server line (1.29 or newer), down to the patch.
    server_tag = image_tag(services["temporal"])
    assert re.fullmatch(r"1\.(29|[3-9]\d)\.\d+", server_tag)
    # admin-tools tags start with the server version they ship with: the schema step must
    # bring the databases to the version this server expects.
    for one_shot in ("temporal-schema", "temporal-setup"):
        tag = image_tag(services[one_shot])
        assert tag == server_tag or tag.startswith(f"{server_tag}-"), one_shot


def test_published_ports(services: dict[str, Any]) -> None:
    assert (7233, 7233) in published_ports(services["temporal"])
    assert (NATS_CLIENT_PORT, NATS_CLIENT_PORT) in published_ports(services["nats"])
    assert (8233, 8080) in published_ports(services["temporal-ui"])
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert (8000, 8000) in published_ports(services["api"])


def test_no_two_services_publish_the_same_host_port(services: dict[str, Any]) -> None:
    hosts = [host for svc in services.values() for host, _ in published_ports(svc)]
    assert len(hosts) == len(set(hosts))


@pytest.mark.parametrize("service", SCALABLE_SERVICES)
def test_scalable_services_have_no_fixed_names_or_ports(
    services: dict[str, Any], service: str
) -> None:
    spec = services[service]
    assert "container_name" not in spec
    assert not spec.get("ports")
    assert "hostname" not in spec


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
    # The broker by its service name, with the credentials the nats service is started with.
    assert settings.nats_url is not None
    broker = urlsplit(settings.nats_url)
    assert broker.scheme == "nats" and broker.hostname == "nats"
    assert broker.hostname in services
    assert broker.port == NATS_CLIENT_PORT
    nats_args = [with_defaults(arg) for arg in command(services["nats"])]
    expected = {"user": flag(nats_args, "--user"), "password": flag(nats_args, "--pass")}
    assert settings.nats_options == expected


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
    assert depends_on(services["temporal-schema"])["postgresql"] == "service_healthy"
    temporal_deps = depends_on(services["temporal"])
    assert temporal_deps["postgresql"] == "service_healthy"
    # The server starts only on schemas of its version.
    assert temporal_deps["temporal-schema"] == "service_completed_successfully"
    assert "7233" in healthcheck(services["temporal"])
    assert depends_on(services["temporal-setup"])["temporal"] == "service_healthy"
    api_deps = depends_on(services["api"])
    assert api_deps["postgresql"] == "service_healthy"
    # Workflows set the search attributes, so nothing may start before they exist.
    assert api_deps["temporal-setup"] == "service_completed_successfully"
    # GET /health counts the broker once OMS_NATS_URL is set.
    assert "OMS_NATS_URL" in environment(services["api"])
    assert api_deps["nats"] == "service_healthy"
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

    # The schema step reaches the same server as the same user, with the same plugin.
    schema = environment(services["temporal-schema"])
    assert schema["SQL_PLUGIN"] == temporal["DB"]
    assert schema["SQL_HOST"] == temporal["POSTGRES_SEEDS"]
    assert schema["SQL_PORT"] == temporal["DB_PORT"] == "5432"
    assert schema["SQL_USER"] == temporal["POSTGRES_USER"]
    assert schema["SQL_PASSWORD"] == temporal["POSTGRES_PWD"]


def test_the_server_runs_from_its_environment(services: dict[str, Any]) -> None:
    """temporalio/server renders its config from these variables (the compose file names
    the config keys); nothing else configures it."""
    temporal = services["temporal"]
    env = environment(temporal)
    assert env["DBNAME"] == "temporal" and env["VISIBILITY_DBNAME"] == "temporal_visibility"
    assert env["DB_PORT"] == "5432"
    # On every interface, so other containers reach it and the health check's 127.0.0.1 too.
    assert env["BIND_ON_IP"] == "0.0.0.0"
    assert "127.0.0.1" in healthcheck(temporal)
    # Explicit, since it can never change once the cluster exists; the comment above it
    # points at the capacity model.
    assert int(env["NUM_HISTORY_SHARDS"]) >= 1
    lines = COMPOSE_FILE.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "NUM_HISTORY_SHARDS:" in line)
    comment = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    assert "docs/performance.md" in " ".join(comment)

    # The dynamic config file is ours, mounted read-only (newer images ship none).
    path = Path(env["DYNAMIC_CONFIG_FILE_PATH"])
    mounts = [str(volume).split(":") for volume in temporal["volumes"]]
    sources = [
        ROOT / source / path.relative_to(target)
        for source, target, *options in mounts
        if path.is_relative_to(target) and options == ["ro"]
    ]
    assert sources and sources[0].is_file()
    assert isinstance(yaml.safe_load(sources[0].read_text()) or {}, dict)


@needs_sh
def test_schema_step_sets_up_new_databases_and_updates_existing_ones(
    services: dict[str, Any], tmp_path: Path
) -> None:
    schema = services["temporal-schema"]
    server = environment(services["temporal"])
    versioned = {server[setting]: directory for setting, directory in SCHEMA_DIRS.items()}
    assert "temporal-sql-tool" in shell_script(schema)
    state = tmp_path / "state"
    state.mkdir()
    log = state / "calls.log"

    # A new volume: both databases created, set up at 0.0 and updated from the right dirs.
    first = run_script(
        schema, tmp_path, {"temporal-sql-tool": SQL_TOOL_STUB}, STUB_STATE=str(state)
    )
    assert first.returncode == 0, first.stdout + first.stderr
    made = take_calls(log)
    for db, directory in versioned.items():
        assert ["--db", db, "create-database"] in made
        assert ["--db", db, "setup-schema", "-v", "0.0"] in made
        assert (state / db / "schema").read_text() == directory
        assert (state / db / "version").read_text() == "latest"

    # The next `up`: created and updated again, never set up again.
    again = run_script(
        schema, tmp_path, {"temporal-sql-tool": SQL_TOOL_STUB}, STUB_STATE=str(state)
    )
    assert again.returncode == 0, again.stdout + again.stderr
    made = take_calls(log)
    assert not [call for call in made if "setup-schema" in call]
    for db, directory in versioned.items():
        assert ["--db", db, "update-schema", "-d", directory] in made

    # An update that fails on an existing database fails the step, so the server never starts.
    (state / "temporal_visibility" / "broken").touch()
    failed = run_script(
        schema, tmp_path, {"temporal-sql-tool": SQL_TOOL_STUB}, STUB_STATE=str(state)
    )
    assert failed.returncode != 0


def test_search_attributes_match_the_workflows(services: dict[str, Any]) -> None:
    script = " ".join(command(services["temporal-setup"]))
    creates = re.findall(r"search-attribute create [^\n]*", script)
    assert creates and all("--address temporal:7233" in line for line in creates)
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    expected = {key.name: CLI_TYPES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    assert registered == expected
    assert "already exists" in script, "re-running compose must tolerate registered attributes"


@needs_sh
def test_temporal_setup_creates_the_namespace_and_attributes_once(
    services: dict[str, Any], tmp_path: Path
) -> None:
    setup = services["temporal-setup"]
    namespace = environment(services["api"])["OMS_TEMPORAL_NAMESPACE"]
    state = tmp_path / "state"
    state.mkdir()
    stubs = {"temporal": TEMPORAL_CLI_STUB}
    expected = {key.name: CLI_TYPES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}

    for run in ("first", "again"):  # the second finds everything there already
        done = run_script(setup, tmp_path, stubs, STUB_STATE=str(state))
        assert done.returncode == 0, f"{run}: {done.stdout}{done.stderr}"
        assert (state / f"namespace-{namespace}").read_text()  # created with a retention
        registered = {
            path.name.removeprefix("attribute-"): path.read_text()
            for path in state.glob("attribute-*")
        }
        assert registered == expected
    for call in take_calls(state / "calls.log"):
        assert flag(call, "--address") == "temporal:7233"

    # Any other refusal fails the step, so the API never starts without its attributes.
    refused = run_script(setup, tmp_path, stubs, STUB_STATE=str(state), STUB_REFUSE="OrderTotal")
    assert refused.returncode != 0


def test_nats_runs_jetstream_with_credentials_and_a_health_check(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    nats = services["nats"]
    version = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)-alpine[\d.]*", image_tag(nats))
    # 2.10 or newer; the alpine variant has the wget the health check uses.
    assert version and (int(version[1]), int(version[2])) >= (2, 10)
    raw = command(nats)
    args = [with_defaults(arg) for arg in raw]
    assert args[0].startswith("-"), "flags only: the image's entrypoint runs nats-server"
    assert {"-js", "--jetstream"} & set(args)
    # The JetStream store on a named volume, so streams outlive the container.
    store = flag(args, "-sd", "--store_dir")
    volumes = [str(volume).split(":") for volume in nats["volumes"]]
    assert [name for name, target, *_ in volumes if target == store][0] in compose["volumes"]
    assert flag(args, "-p", "--port") in (None, str(NATS_CLIENT_PORT))
    # Credentials from the shell, with development defaults, as the OMS services get them.
    assert flag(raw, "--user") == "${OMS_NATS_USER:-oms}"
    assert flag(raw, "--pass") == "${OMS_NATS_PASSWORD:-oms-dev-only}"
    env = environment(services["relay"])
    assert flag(args, "--user") == env["OMS_NATS_USER"]
    assert flag(args, "--pass") == env["OMS_NATS_PASSWORD"]
    # The monitoring port's /healthz, which answers 200 once JetStream is up.
    monitor = flag(args, "-m", "--http_port")
    assert f"127.0.0.1:{monitor}/healthz" in healthcheck(nats)


@pytest.mark.parametrize("service", OMS_COMMAND_SERVICES)
def test_relay_and_intake_run_oms_commands(services: dict[str, Any], service: str) -> None:
    from oms.cli import app

    spec = services[service]
    assert command(spec) == ["oms", service]
    # `oms` in the image is this Typer app, and it has the subcommand.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["oms"] == "oms.cli:main"
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert service in group.commands
    env = environment(spec)
    assert {"OMS_NATS_URL", "OMS_NATS_USER", "OMS_NATS_PASSWORD"} <= env.keys()
    deps = depends_on(spec)
    assert deps["nats"] == "service_healthy"
    # The API migrates the store (the outbox and the claims tables included).
    assert deps["api"] == "service_healthy"


def test_postgres_admits_every_pool(services: dict[str, Any]) -> None:
    """Temporal's pools and a full pool per OMS process, the stack as started plus three
    more replicas (docs/operations.md), fit PostgreSQL's max_connections."""
    args = command(services["postgresql"])
    settings = dict(value.split("=", 1) for value in args[args.index("-c") :][1::2])
    max_connections = int(settings["max_connections"])
    temporal = environment(services["temporal"])
    temporal_pools = int(temporal["SQL_MAX_CONNS"]) + int(temporal["SQL_VIS_MAX_CONNS"])
    pool = create_engine("postgresql+psycopg://oms@postgresql/oms").sync_engine.pool
    # QueuePool keeps its overflow limit private; store/db.py sets it.
    per_process = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    processes = [name for name in services if "OMS_DATABASE_URL" in environment(services[name])]
    needed = temporal_pools + per_process * (len(processes) + 3)
    assert needed <= max_connections - POSTGRES_RESERVED_CONNECTIONS


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
