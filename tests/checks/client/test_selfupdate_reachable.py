from checks.client.selfupdate_reachable import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, http

IUIDENT = "http://wsus01/iuident.cab"
WUAUCOMP = "http://wsus01/selfupdate/AU/x86/XP/EN/wuaucomp.cab"


def test_pass_when_every_file_downloads() -> None:
    finding = evaluate(client(), ctx())
    assert finding.status is Status.PASS
    assert len(finding.evidence) == 3


def test_client_network_when_the_bot_gets_200() -> None:
    facts = client(**{"http.1": http(IUIDENT, None, "timeout")})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "client's network path" in finding.summary
    assert "proxy" in (finding.next_step or "")
    assert f"bot: {IUIDENT}: HTTP 200" in finding.evidence


def test_server_when_the_bot_fails_too() -> None:
    facts = client(**{"http.3": http(WUAUCOMP, 404), "bot_http.3": http(WUAUCOMP, 404)})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "server.selfupdate_http" in finding.summary


def test_mixed_causes_say_both() -> None:
    facts = client(
        **{
            "http.1": http(IUIDENT, 403),
            "bot_http.1": http(IUIDENT, 403),
            "http.3": http(WUAUCOMP, None, "refused"),
        }
    )
    finding = evaluate(facts, ctx())
    assert finding.status is Status.FAIL
    assert "server" in finding.summary
    assert "client" in finding.summary


def test_undecided_without_bot_requests() -> None:
    facts = client(bot_http=None, **{"http.1": http(IUIDENT, 404)})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "cannot be told apart" in finding.summary


def test_current_os_needs_wuident_not_wuaucomp() -> None:
    facts = client(**{"os.selfupdate_os": None, "http": client().model_dump()["http"][:3]})
    assert evaluate(facts, ctx()).status is Status.PASS
    facts = client(**{"os.selfupdate_os": None, "http": [http(IUIDENT)]})
    assert_unknown(evaluate(facts, ctx()), "/selfupdate/wuident.cab")


def test_legacy_os_needs_wuaucomp() -> None:
    facts = client(http=[http(IUIDENT), http("http://wsus01/selfupdate/wuident.cab")])
    assert_unknown(evaluate(facts, ctx()), "/wuaucomp.cab")


def test_unknown_when_missing() -> None:
    assert_unknown(evaluate(client(http=None), ctx()), "http")
    assert_unknown(evaluate(client(http=[]), ctx()), "iuident.cab")


def test_the_summary_names_a_file_the_bot_could_fetch() -> None:
    facts = client(
        **{
            "http.2": http("http://wsus01/selfupdate/wuident.cab", 404),
            "bot_http": [http(WUAUCOMP)],
            "http.3": http(WUAUCOMP, None, "timeout"),
        }
    )
    finding = evaluate(facts, ctx())
    assert WUAUCOMP in finding.summary
    assert "bot: no request to http://wsus01/selfupdate/wuident.cab" in finding.evidence


# Windows 2000 as msinfo32 shows it: "OS Name Microsoft Windows 2000 Professional",
# "Version 5.0.2195 Service Pack 4 Build 2195" (msinfo32 output quoted in a public makefile
# of the code index; repository not named there). WMF 2.0 (WinRM 2.0 + PowerShell 2.0) has
# no Windows 2000 package (KB968929; PowerShell-Docs wmf-overview.md availability table).
W2K_OS = {
    "caption": "Microsoft Windows 2000 Professional",
    "version": "5.0.2195",
    "build": "2195",
    "arch": "x86",
    "language": "ja",
    "selfupdate_os": "W2K",
}


def test_windows_2000_facts_are_unknown_with_the_reason_and_the_manual_steps() -> None:
    facts = client(
        os=W2K_OS,
        http=[
            http("http://wsus01/iuident.cab"),
            http("http://wsus01/selfupdate/AU/x86/W2K/JA/wuaucomp.cab"),
        ],
    )
    finding = evaluate(facts, ctx())
    assert finding.status is Status.UNKNOWN
    assert "Windows 2000 cannot run WinRM 2.0 / PowerShell 2.0" in finding.summary
    assert "check it by hand" in finding.summary
    assert finding.next_step is not None
    assert "/selfupdate/AU/x86/W2K/JA/wuaucomp.cab" in finding.next_step
    assert "5.0.2195" in " ".join(finding.evidence)


def test_windows_2000_is_recognised_by_its_version_alone() -> None:
    facts = client(os={**W2K_OS, "selfupdate_os": None, "language": None})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.UNKNOWN
    assert finding.next_step is not None
    assert "/W2K/<LANG>/wuaucomp.cab" in finding.next_step


def test_xp_and_2003_still_use_their_legacy_tree() -> None:
    for selfupdate_os, version in (("XP", "5.1.2600"), ("NetServer", "5.2.3790")):
        url = f"http://wsus01/selfupdate/AU/x86/{selfupdate_os}/EN/wuaucomp.cab"
        facts = client(
            **{"os.selfupdate_os": selfupdate_os, "os.version": version},
            http=[http("http://wsus01/iuident.cab"), http(url)],
        )
        assert evaluate(facts, ctx()).status is Status.PASS


def test_a_current_agent_of_wsus_2012_needs_only_the_wsus_port_wuident() -> None:
    """WSUS 2012+ serves the self-update tree on its own port (MS-WUSP commonPort): a
    server without a port-80 site is fine for a current agent (docs/catalogue.md D15)."""
    facts = client(
        **{
            "os.selfupdate_os": None,
            "http": [
                http("http://wsus01:8530/ClientWebService/client.asmx"),
                http(IUIDENT, None, "refused"),
                http("http://wsus01/selfupdate/wuident.cab", None, "refused"),
                http("http://wsus01:8530/selfupdate/wuident.cab"),
            ],
        }
    )
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any(line.startswith("not needed by this agent: " + IUIDENT) for line in finding.evidence)


def test_a_current_agent_fails_when_no_wuident_answers() -> None:
    facts = client(
        **{
            "os.selfupdate_os": None,
            "http": [
                http(IUIDENT),
                http("http://wsus01/selfupdate/wuident.cab", 404),
                http("http://wsus01:8530/selfupdate/wuident.cab", 404),
            ],
        }
    )
    assert evaluate(facts, ctx()).status is Status.FAIL


def test_a_legacy_agent_still_needs_iuident_on_port_80() -> None:
    facts = client(
        **{
            "http.1": http(IUIDENT, None, "refused"),
            "bot_http.1": http(IUIDENT, None, "refused"),
        }
    )
    assert evaluate(facts, ctx()).status is Status.FAIL
