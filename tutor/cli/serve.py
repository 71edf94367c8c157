"""Serving: `tutor ui` (the browser) and `tutor mcp` (other agents)."""

from __future__ import annotations

import sys

import click

from tutor.cli.common import (
    build_app,
    check_port_free,
    echo_err,
    ensure_index,
    start_llm,
)


@click.command()
@click.option("--host", default=None, metavar="HOST",
              help="Interface to bind (default 127.0.0.1, this machine only; 0.0.0.0 lets other machines in).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 7860).")
@click.option("--share", type=click.Choice(["off", "on"]), default="off", show_default=True,
              help="A public gradio.live link. Needs the internet, so it stays off on offline machines.")
def ui(host: str | None, port: int | None, share: str) -> None:
    """Open the tutor in the browser: chat with cited answers, the sources behind them, and the stack map.

    Indexes the corpus and starts the embedded LLM first if needed, then serves http://127.0.0.1:7860
    until Ctrl-C. TUTOR_UI_HOST and TUTOR_UI_PORT set the defaults.
    """
    with build_app() as app:
        s = app.settings
        host, port = host or s.ui_host, port or s.ui_port
        check_port_free(host, port)
        ensure_index(app)
        start_llm(app)
        echo_err("Loading the browser UI…")
        from ui.app import launch

        demo = launch(app, host=host, port=port, share=share == "on", block=False)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        click.secho(f"Stack Tutor is ready: http://{shown}:{port}", bold=True)
        if host in ("0.0.0.0", "::"):
            echo_err("Listening on every interface: other machines on the network can use this tutor.")
        echo_err("Press Ctrl-C to stop.")
        try:
            demo.block_thread()
        finally:
            demo.close()



@click.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "streamable-http"]), default="stdio", show_default=True,
              help="stdio: the client starts this command and talks over stdin/stdout. streamable-http: serve "
                   "http://HOST:PORT/mcp for clients that connect.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface for streamable-http (127.0.0.1: this machine only; 0.0.0.0 lets other machines in).")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port for streamable-http.")
def mcp_command(transport: str, host: str, port: int) -> None:
    """Serve the tutor to other agents over the Model Context Protocol (MCP).

    \b
    Tools:     ask, search, calculate, list_layers
    Resources: layer://1 ... layer://14 (summary and passages), doc://<file> (documents)
    Prompt:    socratic_session (tutoring on one layer)

    Indexes the corpus first if needed. Over stdio nothing but the protocol goes to stdout (progress and
    logs go to stderr). The embedded LLM starts on the first `ask` and stops when the server exits.

    \b
    Examples:
      tutor mcp                                     for a desktop client's config (stdio)
      tutor mcp --transport streamable-http         http://127.0.0.1:8765/mcp
    """
    import os
    import signal
    from contextlib import redirect_stdout

    def stop(signum, frame):  # unwind, so the LLM server and the index are closed before we exit
        raise SystemExit(0)

    if transport == "streamable-http":
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: without this the default action kills us
        # before `with` can close anything. (Over stdio SIGTERM ends the process at once, as always; the
        # embedded LLM's watchdog, tutor.llm._serve, then stops it within a second.)
        signal.signal(signal.SIGTERM, stop)
    with build_app() as app:
        if transport == "streamable-http":
            check_port_free(host, port)
        with redirect_stdout(sys.stderr):  # stdout is the protocol's: nothing else may write there
            ensure_index(app)
        from tutor.mcp_server import serve

        if transport == "stdio":
            echo_err("stack-tutor MCP server on stdio (the client's end closes it).")
        else:
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            echo_err(f"stack-tutor MCP server: http://{shown}:{port}/mcp (streamable HTTP). Ctrl-C stops it.")
            if host in ("0.0.0.0", "::"):
                echo_err("Listening on every interface: other machines on the network can use this tutor.")
        serve(app, transport, host=host, port=port)
    # Everything is closed (the LLM server stopped, the index released). Skip the interpreter's teardown of
    # torch (~2 s): a stdio client sends SIGTERM if the server hasn't exited 2 s after it closed stdin.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

