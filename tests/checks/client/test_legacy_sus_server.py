from checks.client.legacy_sus_server import evaluate
from checks.model import Status
from tests.checks.factories import WSUS_URL, assert_problem, assert_unknown, client, ctx, http

FIX = "client.set_wsus_policy"
ASMX = f"{WSUS_URL}/ClientWebService/client.asmx"


def test_pass_when_clientwebservice_answers() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


def test_fail_when_404_while_the_host_answers_other_urls() -> None:
    finding = evaluate(client(**{"http.0": http(ASMX, 404)}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "SUS" in finding.summary
    assert any("iuident.cab: HTTP 200" in line for line in finding.evidence)


def test_404_counts_answers_of_any_status_on_the_same_host() -> None:
    facts = client(
        http=[http(ASMX, 404), http("http://wsus01/iuident.cab", 403)],
    )
    assert evaluate(facts, ctx()).status is Status.FAIL


def test_unknown_when_404_and_nothing_else_answered() -> None:
    facts = client(
        http=[
            http(ASMX, 404),
            http("http://wsus01/iuident.cab", None, "timeout"),
            http("http://elsewhere/iuident.cab", 200),
        ]
    )
    assert_unknown(evaluate(facts, ctx()), "404")


def test_other_errors_mean_the_endpoint_exists() -> None:
    finding = evaluate(client(**{"http.0": http(ASMX, 500)}), ctx())
    assert finding.status is Status.PASS
    assert any("server.clientwebservice_http" in line for line in finding.evidence)


def test_unknown_when_unreachable() -> None:
    finding = evaluate(client(bot_http=[], **{"http.0": http(ASMX, None, "refused")}), ctx())
    assert_unknown(finding, "refused", "client.selfupdate_reachable")


def test_unknown_when_the_entry_is_missing() -> None:
    facts = client(http=[], **{"policy.WUServer": None})
    assert_unknown(evaluate(facts, ctx()), "client.asmx", "WUServer is not set")
    assert_unknown(evaluate(client(http=None), ctx()), "http")


def test_bot_view_decides_when_the_client_reached_nothing() -> None:
    unreachable = {"http.0": http(ASMX, None, "timeout")}
    seen = evaluate(client(bot_http=[http(ASMX, 200)], **unreachable), ctx())
    assert seen.status is Status.PASS
    assert any(line.startswith("bot: ") for line in seen.evidence)
    # the bot seeing a 404 there does not prove SUS on its own: stays unknown
    sus = evaluate(client(bot_http=[http(ASMX, 404)], **unreachable), ctx())
    assert_unknown(sus, "timeout")
