import pytest

from checks.versions import VersionError, compare_versions, is_below, parse_version


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("7.6.7600.256", (7, 6, 7600, 256)),
        ("10.0.19041.3636", (10, 0, 19041, 3636)),
        (" 5.8 ", (5, 8)),
        ("5.4.3790.2180 (srv03_sp1_rtm.050324-1447)", (5, 4, 3790, 2180)),
    ],
)
def test_parse(text: str, parts: tuple[int, ...]) -> None:
    assert parse_version(text) == parts


@pytest.mark.parametrize(
    "text", ["", "abc", "7.6..256", "-1.0", "1.2a", "7,6,7600,256", "1.2.3.4.5.6.7", "１.2"]
)
def test_garbage_is_rejected(text: str) -> None:
    with pytest.raises(VersionError):
        parse_version(text)


def test_compare_is_numeric_and_pads_with_zeros() -> None:
    assert compare_versions("7.6.7600.256", "7.6.7600.1000") == -1
    assert compare_versions("10.0.0.0", "9.99") == 1
    assert compare_versions("5.8", "5.8.0.0") == 0
    assert is_below("5.4.3790.2180", "5.8")
    assert not is_below("5.8.0.2469", "5.8")


def test_repeated_parses_agree_and_garbage_raises_every_time() -> None:
    # parses are cached (an inventory repeats a few versions 100,000 times); errors are not
    for _ in range(3):
        assert parse_version("7.6.7600.256") == (7, 6, 7600, 256)
        assert is_below("7.0.6000.374", "7.6.7600.256")
        with pytest.raises(VersionError):
            parse_version("7.6.x")
        with pytest.raises(VersionError):
            compare_versions("7.6.x", "7.6")
