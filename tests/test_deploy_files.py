"""The deploy files and the configuration examples in the docs work as shipped: each TOML
block parses (and loads through the real loader when it is a whole configuration), the
manifests validate against their schemas offline, the container runs as a numeric
non-root user and the systemd unit stays hardened."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from bot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "fixtures" / "schemas"
MARKDOWN = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
#: the newest Kubernetes whose schemas kubernetes-validate bundles
KUBERNETES_VERSION = kubernetes_validate.latest_version()
_TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.S | re.M)


def toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in MARKDOWN:
        text = path.read_text(encoding="utf-8")
        for number, match in enumerate(_TOML_BLOCK.finditer(text), start=1):
            blocks.append((f"{path.relative_to(ROOT)}#{number}", match.group(1)))
    return blocks


def test_the_docs_have_toml_blocks_to_check() -> None:
    assert any(name.startswith("docs/config.md") for name, _ in toml_blocks())


@pytest.mark.parametrize(("name", "block"), toml_blocks(), ids=[n for n, _ in toml_blocks()])
def test_every_toml_block_in_the_docs_parses_and_configs_load(
    name: str, block: str, tmp_path: Path
) -> None:
    try:
        data = tomllib.loads(block)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{name}: not valid TOML: {exc}")
    # a block whose top-level keys are all configuration sections is a configuration
    if data and set(data) <= set(Settings.model_fields) - {"source"}:
        path = tmp_path / "wsusbot.toml"
        path.write_text(block, encoding="utf-8")
        load_settings(path, env={})


def test_the_example_config_loads_with_the_real_loader() -> None:
    settings = load_settings(DEPLOY / "wsusbot.example.toml", env={})
    assert settings.store.url == "sqlite:////var/lib/wsusbot/wsusbot.sqlite"
    assert settings.winrm.username
    assert settings.winrm.message_encryption == "auto"
    assert settings.servers
    assert settings.clients
    assert settings.patterns
    assert settings.digests
    assert settings.roles.approvers
    assert settings.slack.bot_token_file
    # complete: every section of the configuration appears in it
    text = (DEPLOY / "wsusbot.example.toml").read_text(encoding="utf-8")
    for section in set(Settings.model_fields) - {"source"}:
        assert re.search(rf"^\[\[?{section}\]\]?$", text, re.M), f"no [{section}] in the example"


def test_sqlite_paths_under_var_are_absolute() -> None:
    # sqlite:///var/x is the relative path var/x; /var needs four slashes
    files = [*MARKDOWN, *DEPLOY.rglob("*")]
    relative_var = re.compile(r"sqlite:///var/")
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if path.is_file() and relative_var.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# ---------------------------------------------------------------------- compose


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def compose_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text(encoding="utf-8"))
    # the schema says draft-07 (as "https://json-schema.org/draft-07/schema", without the
    # "#" jsonschema's lookup expects): name the validator rather than guess
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_compose_validates_against_the_compose_spec_schema() -> None:
    compose_validator().validate(compose())


def test_the_schema_validator_catches_a_broken_compose_file() -> None:
    broken = compose()
    broken["services"]["wsusbot"]["restart"] = ["always"]
    with pytest.raises(jsonschema.ValidationError):
        compose_validator().validate(broken)
    broken = compose()
    broken["services"]["wsusbot"]["secrets_"] = []
    with pytest.raises(jsonschema.ValidationError):
        compose_validator().validate(broken)


def test_compose_services_restart_and_the_bot_is_locked_down() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
    bot = services["wsusbot"]
    assert bot["read_only"] is True
    assert bot["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in bot["security_opt"]


def test_compose_secrets_are_files_laid_out_in_deploy_secrets() -> None:
    data = compose()
    layout = (DEPLOY / "secrets" / "README.md").read_text(encoding="utf-8")
    for name, secret in data["secrets"].items():
        assert secret["file"] == f"./secrets/{name}"
        assert f"`{name}`" in layout, f"deploy/secrets/README.md does not describe {name}"
    # every *_FILE the bot reads points at a secret it is given
    bot = data["services"]["wsusbot"]
    for var, value in bot["environment"].items():
        if var.endswith("_FILE"):
            assert value.removeprefix("/run/secrets/") in bot["secrets"], var
    # the secrets themselves are never committed
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text(encoding="utf-8").split()
    assert ignore[0] == "*"


def test_the_config_compose_mounts_by_default_exists_and_loads() -> None:
    volume = compose()["services"]["wsusbot"]["volumes"][0]
    source = re.fullmatch(r"\$\{WSUSBOT_CONFIG_FILE:-(.+?)\}:/etc/wsusbot/wsusbot\.toml:ro", volume)
    assert source, volume
    load_settings(DEPLOY / source.group(1), env={})


# ---------------------------------------------------------------------- kubernetes


def kubernetes_documents() -> list[dict[str, Any]]:
    text = (DEPLOY / "k8s" / "wsusbot.yaml").read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_kubernetes_manifests_validate_against_the_bundled_schemas() -> None:
    kinds = []
    for document in kubernetes_documents():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        kinds.append(document["kind"])
    assert sorted(kinds) == ["ConfigMap", "Deployment"]


def test_the_kubernetes_validator_catches_a_misspelt_field() -> None:
    deployment = next(d for d in kubernetes_documents() if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_config_is_complete_and_loads(tmp_path: Path) -> None:
    config_map = next(d for d in kubernetes_documents() if d["kind"] == "ConfigMap")
    path = tmp_path / "wsusbot.toml"
    path.write_text(config_map["data"]["wsusbot.toml"], encoding="utf-8")
    settings = load_settings(path, env={"WSUSBOT_DATABASE_URL": "postgresql://db/wsusbot"})
    assert settings.winrm.username, "the WinRM username is missing"
    deployment = next(d for d in kubernetes_documents() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    files = {e["name"]: e.get("value") for e in container["env"]}
    assert files["WSUSBOT_WINRM_PASSWORD_FILE"].startswith("/run/secrets/wsusbot/")
    # the non-root user reads the secret files through fsGroup: group-readable
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    assert secret_volume["secret"]["defaultMode"] & 0o040


def test_kubernetes_runs_the_image_user_without_privileges() -> None:
    deployment = next(d for d in kubernetes_documents() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    user, group = dockerfile_user()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == user
    assert pod["securityContext"]["runAsGroup"] == group
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"]["drop"] == ["ALL"]


# ---------------------------------------------------------------------- image


def dockerfile_user() -> tuple[int, int]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)\s*$", text, re.M)
    assert users, "the Dockerfile sets no USER"
    found = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert found, f"USER {users[-1]} is not numeric uid:gid (runAsNonRoot cannot verify it)"
    return int(found.group(1)), int(found.group(2))


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user, group = dockerfile_user()
    assert user != 0
    assert group != 0


def test_the_image_ships_kerberos() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "libkrb5-dev" in text, "the build stage needs the GSSAPI headers for pykerberos"
    assert "libgssapi-krb5-2" in text, "the runtime needs MIT krb5's GSSAPI library"
    assert "'wsusbot[kerberos]'" in text
    assert "'.[kerberos]'" in text


# ---------------------------------------------------------------------- systemd


def test_the_systemd_unit_is_hardened_below_exposure_4() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    done = subprocess.run(
        [analyze, "security", "--offline=yes", str(DEPLOY / "wsusbot.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    assert float(found.group(1)) < 4.0, done.stdout


def test_the_systemd_unit_runs_as_its_own_user_with_secrets_as_credentials() -> None:
    unit = (DEPLOY / "wsusbot.service").read_text(encoding="utf-8")
    assert re.search(r"^User=wsusbot$", unit, re.M)
    assert re.search(r"^CapabilityBoundingSet=$", unit, re.M)
    for secret in ("slack_bot_token", "slack_app_token", "winrm_password"):
        assert re.search(rf"^LoadCredential={secret}:", unit, re.M), secret
