import importlib
from pathlib import Path

import pytest

import checks
from checks.errors import UsageError, WsusbotError
from checks.facts import ClientFacts
from checks.fixes import get_fix
from checks.model import Check, CheckContext, CheckMeta, Finding, Severity, Status
from checks.registry import DuplicateCheckError, Registry, default_registry, evaluate_all
from checks.seed import SECTIONS
from tests.checks.factories import client, ctx, server

CATALOGUE_IDS = {
    "server.port80_site",
    "server.selfupdate_vdir",
    "server.selfupdate_http",
    "server.clientwebservice_http",
    "server.wsus_binding",
    "server.anonymous_auth",
    "server.sharepoint_conflict",
    "server.iis_log_errors",
    "server.services",
    "server.wsuspool",
    "server.stale_clients",
    "client.agent_version",
    "client.policy_wuserver",
    "client.policy_use_wuserver",
    "client.scan_source",
    "client.legacy_sus_server",
    "client.au_enabled",
    "client.services",
    "client.selfupdate_reachable",
    "client.au_state",
    "client.detection_stalled",
    "client.update_log_errors",
    "client.proxy",
}

CHECKS_DIR = Path(checks.__file__).parent

#: docs/catalogue.md's seed and fix columns ("depends on cause" / "—" / "manual" -> None)
CATALOGUE_SEED_AND_FIX = {
    "server.port80_site": (("§4",), None),
    "server.selfupdate_vdir": (("§4",), "server.install_selfupdate_port80"),
    "server.selfupdate_http": (("§4", "§7"), None),
    "server.clientwebservice_http": (("§3",), None),
    "server.wsus_binding": ((), None),
    "server.anonymous_auth": (("§6",), "server.enable_anonymous_auth"),
    "server.sharepoint_conflict": (("§6",), "server.sharepoint_exclude_paths"),
    "server.iis_log_errors": (("§5",), None),
    "server.services": ((), "server.start_services"),
    "server.wsuspool": ((), "server.raise_wsuspool_memory"),
    "server.stale_clients": (("§1", "§2"), None),
    "client.agent_version": (("§1", "§2"), "client.reset_au_state"),
    "client.policy_wuserver": (("§9",), "client.set_wsus_policy"),
    "client.policy_use_wuserver": (("§9",), "client.set_wsus_policy"),
    "client.scan_source": ((), None),
    "client.legacy_sus_server": (("§3",), "client.set_wsus_policy"),
    "client.au_enabled": (("§9",), "client.enable_automatic_updates"),
    "client.services": (("§9",), "client.restart_wuauserv"),
    "client.selfupdate_reachable": (("§7",), None),
    "client.au_state": (("§9",), "client.reset_au_state"),
    "client.detection_stalled": (("§9", "§10"), "client.reset_au_state"),
    "client.update_log_errors": (("§8",), None),
    "client.proxy": ((), None),
}


def test_registry_holds_exactly_the_catalogue() -> None:
    registry = default_registry()
    assert set(registry.ids()) == CATALOGUE_IDS
    assert len(registry) == len(CATALOGUE_IDS)


@pytest.mark.parametrize("check_id", sorted(CATALOGUE_IDS))
def test_each_module_path_matches_its_id(check_id: str) -> None:
    role, name = check_id.split(".")
    assert (CHECKS_DIR / role / f"{name}.py").is_file()
    module = importlib.import_module(f"checks.{role}.{name}")
    assert module.META.id == check_id
    assert module.META.role == role
    assert module.CHECK.meta is module.META
    assert default_registry().get(check_id) is module.CHECK


@pytest.mark.parametrize("check_id", sorted(CATALOGUE_IDS))
def test_metadata_is_complete(check_id: str) -> None:
    meta = default_registry().get(check_id).meta
    assert meta.title
    assert meta.remediation
    assert meta.description
    assert meta.reads
    assert all(section.startswith("§") for section in meta.seed)


@pytest.mark.parametrize("check_id", sorted(CATALOGUE_IDS))
def test_seed_and_fix_follow_the_catalogue(check_id: str) -> None:
    meta = default_registry().get(check_id).meta
    assert (meta.seed, meta.fix) == CATALOGUE_SEED_AND_FIX[check_id]
    if meta.fix is not None:
        assert get_fix(meta.fix).role == meta.role


def test_every_check_module_on_disk_is_registered() -> None:
    on_disk = {
        f"{path.parent.name}.{path.stem}"
        for role in ("client", "server")
        for path in (CHECKS_DIR / role).glob("*.py")
        if not path.stem.startswith("_")
    }
    assert on_disk == CATALOGUE_IDS


def test_for_role_splits_the_catalogue() -> None:
    registry = default_registry()
    assert {c.id for c in registry.for_role("client")} == {
        i for i in CATALOGUE_IDS if i.startswith("client.")
    }
    assert len(registry.for_role("server")) == len(
        [i for i in CATALOGUE_IDS if i.startswith("server.")]
    )


def test_duplicate_ids_are_rejected() -> None:
    check = default_registry().get("client.proxy")
    with pytest.raises(DuplicateCheckError, match=r"client\.proxy"):
        Registry([check, check])
    assert issubclass(DuplicateCheckError, WsusbotError)


def test_unknown_id_lists_close_matches() -> None:
    with pytest.raises(UsageError, match=r"client\.proxy"):
        default_registry().get("client.proxi")
    with pytest.raises(UsageError, match="unknown check"):
        default_registry().get("nothing-like-it")


def test_evaluate_all_runs_the_checks_of_the_facts_role() -> None:
    findings = evaluate_all(default_registry(), client(), ctx())
    assert [f.check for f in findings] == [c.id for c in default_registry().for_role("client")]
    # the healthy client is XP: client.scan_source (Windows 10/11 only) does not apply
    assert all(f.status is Status.PASS for f in findings if f.check != "client.scan_source")
    assert next(f for f in findings if f.check == "client.scan_source").status is Status.SKIP
    assert len(evaluate_all(default_registry(), server(), ctx())) == len(
        [i for i in CATALOGUE_IDS if i.startswith("server.")]
    )


def _broken(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    raise ZeroDivisionError("secret detail")


def _refusing(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    raise UsageError("bad threshold")


def _meta(check_id: str) -> CheckMeta:
    return CheckMeta(check_id, "client", "t", Severity.LOW, (), ("x",), "r")


def test_an_exception_in_one_check_becomes_unknown() -> None:
    registry = Registry(
        [
            Check(_meta("client.broken"), _broken),
            Check(_meta("client.refusing"), _refusing),
            default_registry().get("client.au_state"),
        ]
    )
    broken, refusing, normal = evaluate_all(registry, client(), ctx())
    assert broken.status is Status.UNKNOWN
    assert "ZeroDivisionError" in broken.summary
    assert "secret detail" not in " ".join((broken.summary, *broken.evidence))
    assert refusing.status is Status.UNKNOWN
    assert "bad threshold" in " ".join(refusing.evidence)
    assert normal.status is Status.PASS


@pytest.mark.parametrize("check_id", sorted(CATALOGUE_IDS))
def test_every_seed_reference_names_a_section_of_the_article(check_id: str) -> None:
    meta = default_registry().get(check_id).meta
    for section in meta.seed:
        assert section in SECTIONS, f"{check_id} cites {section}, which Cc708554 does not have"
