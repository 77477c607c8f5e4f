"""``qualkit serve``: the researcher's workbench, a local web app on the current study."""

from __future__ import annotations

import click

from ._common import coder_name, get_study, handle_errors


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default: 8421, or the next free one).")
@click.option("--coder", help="Your coder name: decisions and codings are stored as human:NAME (default: $QUALKIT_CODER or your user name).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but this machine exposes the study to the network: only with care.")
@click.pass_context
@handle_errors
def serve_command(ctx: click.Context, port: int | None, coder: str | None, host: str) -> None:
    """Start the workbench: read coded transcripts, review a run's suggestions, code by hand.

    Prints the address with an access token (open it once; the browser keeps a cookie). Every
    decision is stored in the study's store as a human coding of --coder. Stop with Ctrl-C.
    """
    from ..web.app import LOCAL_HOSTS
    from ..web.server import serve

    study = get_study(ctx)
    if host not in LOCAL_HOSTS:
        click.secho(
            f"warning: binding {host} makes the workbench reachable from other machines; anyone with the token "
            "can read and change this study. The traffic is not encrypted.", fg="yellow", err=True,
        )

    def announce(info) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"qualkit workbench on {study.root} as human:{info.coder}")
        click.echo(f"Open this address (it carries the access token):\n\n    {info.url}\n")
        click.echo("Stop with Ctrl-C.")

    serve(study.root, coder=coder_name(coder), host=host, port=port, announce=announce)
