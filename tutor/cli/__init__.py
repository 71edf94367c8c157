"""The `tutor` command. Turns every TutorError into a one-line message and a non-zero exit code.

The commands live by concern: `ask` (ingest, layers, search, ask, chat), `learn` (quiz, grade, review, cards,
progress, path), `serve` (ui, mcp) and `evals` (eval, eval-learn); `common` holds what they share.
"""

from __future__ import annotations

import sys

import click

from tutor.cli import ask as _ask
from tutor.cli import evals as _evals
from tutor.cli import learn as _learn
from tutor.cli import serve as _serve
from tutor.cli.common import echo_err
from tutor.errors import TutorError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stack-tutor")
@click.option("--debug", is_flag=True, help="Show full tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """stack-tutor: learn the 14 layers of the AI technology stack from a fixed set of documents.

    Everything runs offline: an embedded Qdrant index under .tutor/, an embedding model and an LLM
    shipped in PyPI packages (the LLM served by llama.cpp on 127.0.0.1). Set OPENAI_BASE_URL and
    OPENAI_API_KEY to use any OpenAI-compatible server instead. Configure with TUTOR_* environment
    variables or a .env file (see README).

    \b
    Start here:
      tutor chat                        talk with the tutor in the terminal
      tutor ask "What is CoWoS?"        one answer with layer citations (--json for tools)
      tutor search "What is CoWoS?"     find the passages that answer a question
      tutor layers                      the 14 layers and how many passages each has
      tutor ingest                      index corpus/ (automatic on first use)
    """
    ctx.ensure_object(dict)["debug"] = debug



for _command in (_ask.ingest, _ask.layers, _ask.search, _ask.ask, _ask.chat, _learn.quiz, _learn.grade,
                 _learn.review, _learn.cards, _learn.progress, _learn.path, _serve.ui, _serve.mcp_command,
                 _evals.eval_command, _evals.eval_learn):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="tutor", standalone_mode=False)
    except TutorError as e:
        echo_err(f"Error: {e}")
        sys.exit(e.exit_code)
    except click.exceptions.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        echo_err("Interrupted.")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - last resort: a clean line, not a traceback
        if debug:
            raise
        echo_err(f"Error: unexpected {type(e).__name__}: {str(e)[:300]}. Re-run with `tutor --debug ...` for details.")
        sys.exit(1)


if __name__ == "__main__":
    main()
