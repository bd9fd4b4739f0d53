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
