"""``wsusbot checks list|explain``: the catalogue."""

from __future__ import annotations

import typer

from bot.cli.state import print_json, state_of


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The check catalogue.", no_args_is_help=True)

    @group.command("list")
    def list_checks(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """List every check: id, role, severity, seed section and proposed fix."""
        from bot.render.terminal import print_catalogue
        from checks.registry import default_registry

        registry = default_registry()
        if as_json:
            print_json(
                [
                    {
                        "id": c.meta.id,
                        "role": c.meta.role,
                        "title": c.meta.title,
                        "severity": c.meta.severity.value,
                        "seed": list(c.meta.seed),
                        "fix": c.meta.fix,
                    }
                    for c in registry.all()
                ]
            )
            return
        print_catalogue(state_of(ctx).out, registry.all())

    @group.command("explain")
    def explain(ctx: typer.Context, check_id: str = typer.Argument(..., metavar="ID")) -> None:
        """What a check verifies, why (seed section), and its fix."""
        from bot.render.terminal import print_explain
        from checks.fixes import get_fix
        from checks.registry import default_registry

        check = default_registry().get(check_id)
        fix = get_fix(check.meta.fix) if check.meta.fix else None
        print_explain(state_of(ctx).out, check.meta, fix)

    app.add_typer(group, name="checks")
