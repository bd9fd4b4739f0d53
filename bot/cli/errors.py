"""The exception types of the parser under typer: Typer >= 0.20 vendors its own click
(``typer._click``, rooted in ``typer.exceptions.TyperException``); older Typer raises
click's. Both are caught, so a usage mistake is one line whichever is installed."""

from __future__ import annotations

from importlib import import_module

ExcTypes = tuple[type[BaseException], ...]


def _types(*dotted: str) -> ExcTypes:
    found: list[type[BaseException]] = []
    for name in dotted:
        module_name, _, attr = name.rpartition(".")
        try:
            module = import_module(module_name)
        except ImportError:
            continue
        kind = getattr(module, attr, None)
        if isinstance(kind, type) and issubclass(kind, BaseException) and kind not in found:
            found.append(kind)
    return tuple(found)


def usage_exception_types() -> tuple[ExcTypes, ExcTypes, ExcTypes]:
    """(usage errors, aborts, exits) of every parser that may be in use."""
    usage = _types("typer.exceptions.TyperException", "click.exceptions.ClickException")
    aborts = _types("typer.exceptions.Abort", "click.exceptions.Abort")
    exits = _types("typer.exceptions.Exit", "click.exceptions.Exit")
    return usage, aborts, exits


def is_no_args_help(exc: BaseException) -> bool:
    return type(exc).__name__ == "NoArgsIsHelpError"
