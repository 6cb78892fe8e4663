"""``python -m kagura_magic`` (and the ``kagura`` script): ``%%agent`` in a terminal.

The prompt is the arguments, then standard input when it is piped
(``cat notes.md | kagura "summarise this"`` sends the instruction followed by
the notes). On a terminal the answer streams as live Markdown; piped, its raw
Markdown goes to stdout byte for byte. On a terminal (live or ``--plain``)
control characters from the model are shown, never obeyed. The status line,
spinner and errors go to stderr, with every known secret masked. Exit
status: 0 answered, 1 error, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from kagura_magic import settings
from kagura_magic.config import LLMConfig
from kagura_magic.errors import AgentError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kagura",
        description=(
            "Stream a model's answer into the terminal as live Markdown (any litellm model; "
            "demo/* models work offline). The prompt is the arguments; piped stdin is appended "
            "after them. When stdout is not a terminal, the raw Markdown is written instead, "
            "byte for byte as the model sent it. On a terminal, control characters in the answer "
            "(escape sequences that could set the title, the clipboard or clear the screen) are "
            "shown in caret notation (ESC as ^[), never obeyed."
        ),
        epilog=(
            "examples:\n"
            '  kagura -m demo/showcase "Show me what you can do"\n'
            '  cat notes.md | kagura -m gpt-4o-mini "Summarise these notes"\n'
            '  kagura -m demo/echo --param tokens_per_second=0 "fast echo" > answer.md\n'
            "\n"
            "environment:\n"
            "  KAGURA_MODEL   default model for -m\n"
            "  KAGURA_CONFIG  the config file of defaults (else ~/.config/kagura_magic/config.toml)\n"
            "  NO_COLOR       no colours (layout and bold/italic stay)\n"
            "\n"
            "exit status: 0 answered, 1 error, 2 bad usage, 130 interrupted (Ctrl-C)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prompt", nargs="*", help="the prompt (stdin, when piped, is appended)")
    settings.add_options(parser, "cli")  # the magic's options that make sense here, as declared
    # Terminal-only: how the answer is shown, which the magic decides from its frontend.
    parser.add_argument(
        "--plain",
        action="store_true",
        help="write the raw Markdown as it arrives, even on a terminal (control characters shown as ^[)",
    )
    parser.add_argument(
        "--show-thinking",
        action="store_true",
        help="keep a reasoning model's thinking in the scrollback (else shown live, then folded into "
        "one line); when stdout is not a terminal, write it to stderr (never to stdout)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no status line after the answer")
    # Taken only to say why not: a background answer needs a notebook to stream into.
    parser.add_argument("--bg", action="store_true", help=argparse.SUPPRESS)
    return parser


def read_prompt(words: Sequence[str], stdin: TextIO) -> str:
    """The argument words, then piped stdin after a blank line.

    Bytes that are not UTF-8 (in an argument, or piped) are read as lone
    surrogates, as Python reads arguments, rather than ending in a traceback;
    ``sendable`` turns them into U+FFFD.
    """
    prompt = " ".join(words).strip()
    if not stdin.isatty():
        reconfigure = getattr(stdin, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")
        piped = stdin.read()
        if piped.strip():
            prompt = f"{prompt}\n\n{piped}" if prompt else piped
    return prompt


def sendable(prompt: str) -> str:
    """``prompt`` as it can be sent (U+FFFD for what cannot be encoded); one note on stderr if changed."""
    from kagura_magic.llm import UNENCODABLE_NOTE, whole_characters

    cleaned = whole_characters(prompt)
    if cleaned != prompt:
        _say(f"kagura: {UNENCODABLE_NOTE}")
    return cleaned


def run(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    parser = build_parser()
    args = settings.parse_args(parser, argv)  # argparse's, with "did you mean" for a typo
    if args.bg:
        from kagura_magic.background import NEEDS_NOTEBOOK

        print(f"kagura: {NEEDS_NOTEBOOK}", file=sys.stderr)
        return EXIT_USAGE
    prompt = sendable(read_prompt(args.prompt, stdin or sys.stdin))
    if not prompt.strip():
        parser.print_usage(sys.stderr)
        print("kagura: no prompt: give it as arguments or on stdin.", file=sys.stderr)
        return EXIT_USAGE
    # The user's config file sets the defaults here as in a notebook; a bad file is said, not fatal.
    user = settings.load_user_settings()
    for problem in user.problems:
        _say(f"kagura: {problem}")
    try:
        config = settings.build_config(user.values, settings.option_values(args, "cli"))
        model = config.resolved_model()
    except AgentError as error:
        _say(f"kagura: {error}")
        return EXIT_USAGE
    return stream_answer(
        prompt, config, model, quiet=args.quiet, plain=args.plain, show_thinking=args.show_thinking
    )


def stream_answer(
    prompt: str,
    config: LLMConfig,
    model: str,
    quiet: bool = False,
    plain: bool = False,
    output_format: str = "markdown",
    show_thinking: bool = False,
) -> int:
    """Stream into the terminal view; say how it ended on stderr; return the exit status."""
    from kagura_magic import answer
    from kagura_magic.formats import LIVE_MODES
    from kagura_magic.views.terminal import make_view

    mode = "verbatim" if plain else LIVE_MODES[output_format]
    view = make_view(model, mode=mode, quiet=quiet, thinking="keep" if show_thinking else "live")
    from kagura_magic.llm import call_llm_stream  # the spinner turns while litellm is imported

    try:
        outcome = answer.run(view, lambda: call_llm_stream(prompt, config), model=model)
    except BrokenPipeError:
        # The reader went away (`kagura ... | head`): stop quietly, like cat does.
        _silence_stdout()
        return 0
    if outcome.status == "interrupted":
        _say(f"⏹ {outcome.message}", _YELLOW)
        return EXIT_INTERRUPTED
    if not outcome.ok:
        _say(f"✖ {outcome.message}", _RED)
        return EXIT_ERROR
    return 0


_RED, _YELLOW = "31", "33"


def _say(message: str, colour: str | None = None) -> None:
    """A message on stderr, in colour where wanted; what ended the answer is said with this.

    Its words may be a provider's: known secrets are masked and control
    characters shown, never obeyed (on a terminal or in a log file).
    """
    from kagura_magic.secrets import mask
    from kagura_magic.views.terminal import visible_controls, wants_color, write_all

    message = visible_controls(mask(message))
    lines = message.splitlines() or [message]
    if colour is not None and wants_color(sys.stderr):
        lines = [f"\x1b[{colour}m{lines[0]}\x1b[0m", *(f"\x1b[2m{line}\x1b[0m" for line in lines[1:])]
    write_all(sys.stderr, "\n".join(lines) + "\n")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's exit flush can't raise again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> None:
    try:
        status = run(argv)
    except KeyboardInterrupt:  # Ctrl-C while reading stdin or parsing: no traceback
        sys.stderr.write("⏹ interrupted\n")
        status = EXIT_INTERRUPTED
    sys.exit(status)


if __name__ == "__main__":
    main()
