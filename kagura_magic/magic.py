"""``%%agent`` and ``%agent``: wiring the layers, nothing more.

Arguments come from IPython's ``magic_arguments`` (so ``%%agent?`` is real
help); defaults from ``%config AgentMagics.<name>`` traits, seeded from the
user's config file (``settings.py``). The cell body is rendered as a ``{{ }}``
template over the user namespace (plus ``Err`` and ``cell``, see
``context.py``), sent with the conversation so far, and streamed through
``pump`` into the notebook view (or the terminal view where there is no
widget frontend).

A failure never prints a traceback: the output settles with what was
streamed, and the cell ends with a ``CellFailed`` whose rendered traceback is
the error's one or two lines. It is still an error, so a "Run all" stops
there, as it would for any failing cell or an interrupt.
"""

from __future__ import annotations

import builtins
import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from kagura_magic import formats, settings
from kagura_magic.config import MODEL_ENV_VAR, LLMConfig
from kagura_magic.errors import AgentError
from kagura_magic.history import ANSWER_ROOM, Conversation, Exchange, exchange_key
from kagura_magic.llm import UNENCODABLE_NOTE, Message, whole_characters
from kagura_magic.prompt import Prompt, images_as_text, sent_once
from kagura_magic.templating import render_prompt
from kagura_magic.usage import Ledger, budget_refusal

if TYPE_CHECKING:
    from kagura_magic.views import Outcome, View

SUBCOMMANDS = ("help", "history", "reset", "models", "config", "fix", "wait", "stop", "estimate", "usage")

DEFAULT_CHAT = "default"
SETTINGS = settings.TRAIT_NAMES  # the %config AgentMagics.<name> settings, declared in settings.py


def _cell_options(func: Any) -> Any:
    """The per-cell options declared in settings.py, as IPython ``@argument`` decorators.

    IPython adds decorated arguments in reverse, so they are applied last first:
    ``%%agent?`` then lists them in the order they are declared.
    """
    for flags, keywords in reversed(settings.argparse_options("cell")):
        func = argument(*flags, **keywords)(func)  # type: ignore[no-untyped-call]  # IPython's
    return func


FIX_PROMPT = """This notebook cell failed.

Code (cell {number}):
{code}

Error:
{error}

Explain briefly what went wrong, then give the whole corrected cell as one ```python block."""


class CellFailed(Exception):
    """Ends a cell as failed, showing only the user message (IPython's ``_render_traceback_``)."""

    def __init__(self, message: str, interrupted: bool = False) -> None:
        super().__init__(message)
        self.interrupted = interrupted

    def _render_traceback_(self) -> list[str]:
        # Bold, not coloured: frontends draw errors on a tinted background where
        # yellow or red text is hard to read; no symbols that common fonts lack.
        from kagura_magic.views.terminal._controls import visible_controls

        # A provider's words may hold escape sequences; a terminal would obey them.
        lines = visible_controls(str(self)).splitlines() or ["failed"]
        return [f"\x1b[1m{lines[0]}\x1b[0m", *lines[1:]]


@dataclass
class Request:
    """One ``%%agent`` run, after parsing: what to send and what to do with the answer."""

    prompt: Prompt  # its text, and the pictures {{ }} put in it
    config: LLMConfig
    chat: str | None  # None: --no-history
    output_format: str
    out: str | None
    background: bool = False  # --bg: return at once, stream on a thread (background.py)
    dry_run: bool = False  # --dry-run: show what would be sent (estimate.py), send nothing


@magics_class
class AgentMagics(Magics):
    """Stream a model's answer into the cell's output, as live Markdown."""

    # One %config trait per setting declared in settings.py, with the same name, type,
    # default and help: settings.py is the only place they are named.
    locals().update(settings.traits())
    if TYPE_CHECKING:  # a checker cannot see generated traits; their values are read as Any

        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chats: dict[str, Conversation] = {DEFAULT_CHAT: Conversation()}
        self.usage = Ledger()
        self.sources: dict[str, str] = {}
        self.settings_problems: list[str] = []
        self._apply_user_settings()
        self.observe(self._note_session_change, names=list(SETTINGS))

    # -- settings and where they came from --------------------------------------------
    def _apply_user_settings(self) -> None:
        """File values fill in what IPython config did not set (IPython config wins).

        The file's values were checked against the same declarations the traits
        come from, so setting them cannot fail; a bad one is already a problem.
        """
        configured = set(self.config.get("AgentMagics", {}))
        user = settings.load_user_settings()
        self.settings_problems = user.problems
        for name in SETTINGS:
            if name in configured:
                self.sources[name] = "IPython config"
            elif name in user.values:
                setattr(self, name, user.values[name])
                self.sources[name] = f"config file {user.path}"

    def _note_session_change(self, change: dict[str, Any]) -> None:
        self.sources[change["name"]] = "%config"

    def _defaults(self) -> dict[str, Any]:
        """The session's value of every setting: built-in < file < IPython config < %config."""
        return {name: getattr(self, name) for name in SETTINGS}

    @property
    def conversation(self) -> Conversation:
        return self.chats[DEFAULT_CHAT]

    # -- the magic ---------------------------------------------------------------------
    @magic_arguments()  # type: ignore[no-untyped-call, untyped-decorator]  # IPython's, untyped
    @_cell_options
    @argument(  # type: ignore[no-untyped-call, untyped-decorator]
        "prompt", nargs="*", help="(line form) the prompt; in a cell, the cell body is the prompt"
    )
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> None:
        """Ask a model; the answer streams into the output as Markdown.

        In a cell: %%agent [options], then the prompt on the lines below.
        On one line: %agent [options] prompt, or a subcommand:

          %agent help                    this help
          %agent history [--chat NAME]   what the next cell sends of a conversation
          %agent reset [--chat NAME]     forget a conversation
          %agent models [PROVIDER]       chat models, with context size and price
          %agent config                  each setting, and where its value came from
          %agent fix                     explain the last failing cell, offer a fix
          %agent wait                    wait until every background answer (--bg) ended
          %agent stop                    stop every background answer
          %agent estimate [options] PROMPT   what it would send and cost (as --dry-run)
          %agent usage                   calls, tokens and cost so far, by model and by chat

        {{ expression }} in the prompt is replaced by its value from the notebook
        (In[n], Out[n], Err[-1], cell(n) and any variable; large values are
        summarised); other braces are left alone.

        Defaults: %config AgentMagics.NAME = VALUE for the session, or the config
        file for every session (%agent config shows both).
        """
        words = line.split()
        if cell is None and words and words[0] in SUBCOMMANDS:
            getattr(self, f"_cmd_{words[0]}")(line.split(None, 1)[1] if len(words) > 1 else "")
            return
        args = self._parse(line)
        # A cell's trailing newline is not part of what the user wrote.
        body = cell.rstrip("\n") if cell is not None else " ".join(args.prompt)
        if cell is not None and args.prompt:
            raise UsageError(
                f"unexpected words after the options: {' '.join(args.prompt)!r}\n{self._usage()}"
            )
        if not body.strip():
            raise UsageError(f"no prompt: write it in the cell below %%agent.\n{self._usage()}")
        self._ask(self._cell_request(args, body))

    # -- steps ---------------------------------------------------------------------------
    def _parse(self, line: str) -> Any:
        parser = self.agent.parser  # set by @magic_arguments
        try:
            # Quotes as a shell reads them (as for kagura): IPython's default keeps them,
            # so --system "Be brief" would send the quotes too.
            return settings.parse_args(parser, shlex.split(line))
        except UsageError as error:
            raise UsageError(f"{error}\n{self._usage()}") from None
        except ValueError as error:  # unbalanced quotes
            raise UsageError(f"could not read the options: {error}\n{self._usage()}") from None

    def _usage(self) -> str:
        return settings.usage_line()

    def _cell_request(self, args: Any, body: str) -> Request:
        """``_request``, a bad value in it (a template, a setting) ending the cell in one line."""
        try:
            return self._request(args, body)
        except AgentError as error:
            raise CellFailed(str(error)) from None

    def _request(self, args: Any, body: str) -> Request:
        config = self._config(args)
        prompt = Prompt.of(body) if (args.no_template or not self.template) else self._render(body)
        if (sendable := prompt.map_text(whole_characters)) != prompt:
            print(UNENCODABLE_NOTE)  # one line above the answer, which goes on with U+FFFD
            prompt = sendable
        use_history = self.history and not args.no_history
        return Request(
            prompt=prompt,
            config=config,
            chat=(args.chat or DEFAULT_CHAT) if use_history else None,
            output_format=args.format or self.default_format,
            out=args.out,
            background=self.background or args.bg,
            dry_run=args.dry_run,
        )

    def _config(self, args: Any) -> LLMConfig:
        """The cell's options over the session's defaults, built as ``kagura`` builds it."""
        config = settings.build_config(self._defaults(), settings.option_values(args))
        config.resolved_model()  # fail now, with the how-to message, not mid-display
        return config

    def _render(self, body: str) -> Prompt:
        from kagura_magic import context
        from kagura_magic.images import image

        # Python's builtins (len, max, sorted…) as in a code cell, and image(); the user's names
        # win, but Out is read as the cell showed it (pictures included: context.CellOutputs).
        user = self.shell.user_ns if self.shell is not None else {}
        namespace = {**vars(builtins), "image": image, **user, "Out": context.cell_outputs(self.shell)}
        return render_prompt(body, namespace)

    def _cell_id(self) -> str | None:
        """The frontend's id of the running cell (ipykernel passes the request's metadata)."""
        get_parent = getattr(self.shell, "get_parent", None)  # a kernel's shell has it; IPython's not
        try:
            metadata = (get_parent() if get_parent is not None else {}).get("metadata") or {}
        except Exception:
            return None
        cell_id = metadata.get("cellId") or metadata.get("cell_id")
        return cell_id if isinstance(cell_id, str) else None

    def _budget(self, config: LLMConfig, current: list[Message]) -> tuple[str, int]:
        from kagura_magic import llm

        model = config.resolved_model()
        return model, max(_history_budget(model, config.max_tokens) - llm.count_tokens(model, current), 0)

    def _messages(self, request: Request, key: str) -> list[Message]:
        return self._planned_messages(request, key)[0]

    def _planned_messages(self, request: Request, key: str) -> tuple[list[Message], int]:
        """What the cell sends (system prompt, the history that fits, the prompt) and how many
        earlier exchanges were left out to fit."""
        from kagura_magic import llm

        user = {"role": "user", "content": request.prompt.content()}
        current = llm.build_messages([user], request.config.system_prompt)
        chat = self.chats.get(request.chat) if request.chat else None
        if chat is None or not len(chat):
            return current, 0
        model, budget = self._budget(request.config, current)
        history, dropped = chat.history_for(key, budget, lambda messages: llm.count_tokens(model, messages))
        if llm.takes_images(model) is False:  # earlier pictures, asked of a model that took them
            history = images_as_text(history)
        system = [m for m in current if m["role"] == "system"]
        return sent_once([*system, *history, *(m for m in current if m["role"] != "system")]), dropped

    def _check_images(self, request: Request, model: str) -> None:
        """A prompt with pictures, for a model litellm says takes none: say so before sending."""
        if not request.prompt.images:
            return
        from kagura_magic import llm

        if llm.takes_images(model) is False:
            count = len(request.prompt.images)
            raise CellFailed(
                f"{model} takes no images (litellm's model list says so), and this prompt has "
                f"{count} picture{'s' if count != 1 else ''}: use a vision model (gpt-4o-mini, "
                "claude-sonnet-4, demo/vision offline), or describe it in text."
            )

    def _check_budget(self, request: Request, key: str, model: str) -> None:
        """With ``budget`` set: refuse a cell whose input alone would pass what is left of it."""
        if self.budget is None:
            return
        from kagura_magic import llm

        messages = self._messages(request, key)
        input_cost = llm.input_cost(model, llm.count_tokens(model, messages))
        refusal = budget_refusal(self.budget, self.usage.spent, input_cost)
        if refusal is not None:
            raise CellFailed(refusal)
        if input_cost is None:
            print(f"budget: litellm has no price for {model}; this cell is not counted against it.")

    def _estimate(self, request: Request) -> None:
        """--dry-run: show what would be sent, counted and priced; send nothing."""
        from IPython.display import display

        from kagura_magic import estimate

        key = exchange_key(self._cell_id(), request.prompt.identity)
        messages, dropped = self._planned_messages(request, key)
        model = request.config.resolved_model()
        try:
            self._check_images(request, model)
        except CellFailed as refusal:  # nothing is sent either way: show the plan, and why it would stop
            print(f"Note: {refusal} A real run refuses this cell.")
        result = estimate.estimate(model, messages, dropped)
        display(estimate.bundle(result), raw=True)  # type: ignore[no-untyped-call]

    def _ask(self, request: Request) -> None:
        """Stream the answer into the view for this frontend; end the cell as the outcome says."""
        from kagura_magic import answer
        from kagura_magic.llm import call_llm_stream, litellm_ready, preflight
        from kagura_magic.views import make_view

        if request.dry_run:
            self._estimate(request)
            return
        key = exchange_key(self._cell_id(), request.prompt.identity)
        model = request.config.resolved_model()
        self._check_images(request, model)
        self._check_budget(request, key, model)
        if litellm_ready():  # else the stream checks it; the spinner must not wait for an import
            try:
                preflight(request.config)
            except AgentError as error:
                raise CellFailed(str(error)) from None
        view = make_view(
            model,
            kind=self.view,
            shell=self.shell,
            mode=formats.LIVE_MODES[request.output_format],
            remote_images=self.remote_images,
            show_thinking=self.show_thinking,
        )
        if request.background:
            self._ask_in_background(request, view, key, model)
            return
        outcome = answer.run(
            view,
            lambda: call_llm_stream(self._messages(request, key), request.config),
            model=model,
            output_format=request.output_format,
        )
        self.usage.add(outcome.stats, request.chat)  # billed whatever the ending
        if not outcome.ok and outcome.status != "stopped":
            # The settled output keeps what arrived; the cell's error line says what happened.
            raise CellFailed(outcome.message or "No answer.", interrupted=outcome.status == "interrupted")
        if outcome.next_cell is not None and self.shell is not None:
            self.shell.set_next_input(outcome.next_cell, replace=False)
        # Stopped (the Stop button): the user ended this answer, not the run. Its output says so
        # in its own line; like a chat UI, -o and the conversation keep the answer as it stood.
        if request.out and self.shell is not None:
            self.shell.user_ns[request.out] = outcome.value
        self._remember(request, key, model, outcome)

    def _remember(self, request: Request, key: str, model: str, outcome: Outcome) -> None:
        """Add the exchange to its conversation (a tool call alone is nothing to go on from)."""
        if request.chat is None:
            return
        chat = self.chats.setdefault(request.chat, Conversation())
        if not outcome.text or (not outcome.ok and outcome.status != "stopped"):
            chat.release(key)  # a background answer's reserved place, if it had one
            return
        thought = outcome.stats is not None and outcome.stats.thinking_started is not None
        chat.record(Exchange(key, request.prompt, outcome.text, model, thought=thought))

    def _ask_in_background(self, request: Request, view: View, key: str, model: str) -> None:
        """Show the view and open the stream here, then return: a thread streams the answer."""
        from kagura_magic import answer, background
        from kagura_magic.llm import call_llm_stream
        from kagura_magic.views._display import DisplayView
        from kagura_magic.views.pump import Ending

        if not isinstance(view, DisplayView):
            raise CellFailed(background.NEEDS_NOTEBOOK)
        view.start()
        try:
            stream = call_llm_stream(self._messages(request, key), request.config)
        except AgentError as error:
            view.settle(answer.judge(Ending("", error=error), model=model, stats=None))
            raise CellFailed(str(error)) from None
        if request.chat is not None:  # its place in the conversation is the order the cells ran
            self.chats.setdefault(request.chat, Conversation()).reserve(key)
        shell = self.shell

        def replace_handle(handle: background.BackgroundAnswer) -> None:
            """-o VAR: once ended, the value replaces the handle (unless VAR was set meanwhile);
            a failed answer leaves the handle, whose result() says what went wrong."""
            outcome = handle.outcome
            if outcome is None or not (outcome.ok or outcome.status == "stopped"):
                return
            if request.out and shell is not None and shell.user_ns.get(request.out) is handle:
                shell.user_ns[request.out] = outcome.value

        def ended(handle: background.BackgroundAnswer, outcome: Outcome) -> None:
            self.usage.add(outcome.stats, request.chat)
            replace_handle(handle)
            self._remember(request, key, model, outcome)

        handle = background.start(
            view,
            stream,
            judge=lambda ending: answer.judge(
                ending,
                model=model,
                stats=stream.stats,
                output_format=request.output_format,
                note_in_output=True,  # no error line of its own: its output says how it ended
            ),
            on_end=ended,
        )
        if request.out and shell is not None:
            shell.user_ns[request.out] = handle
            replace_handle(handle)  # an answer that ended already (at once, or failing fast)

    # -- subcommands ---------------------------------------------------------------------
    def _cmd_help(self, _rest: str) -> None:
        # Plain text: agent.__doc__ is IPython's reST rendering (a "::" block, <metavars>).
        parser = self.agent.parser  # set by @magic_arguments
        print(settings.plain_help(parser, "%%agent", parser.description))

    def _chat_option(self, rest: str) -> str:
        words = rest.split()
        if words[:1] == ["--chat"] and len(words) == 2:
            return words[1]
        if words:
            raise UsageError(f"unexpected {rest!r}: use --chat NAME or nothing")
        return DEFAULT_CHAT

    def _cmd_estimate(self, rest: str) -> None:
        args = self._parse(rest)
        body = " ".join(args.prompt)
        if not body.strip():
            raise UsageError(f"no prompt: %agent estimate [options] PROMPT.\n{self._usage()}")
        self._estimate(self._cell_request(args, body))

    def _cmd_usage(self, rest: str) -> None:
        if rest.strip():
            raise UsageError(f"unexpected {rest!r}: %agent usage takes nothing")
        print(self.usage.report(self.budget))

    def _cmd_wait(self, rest: str) -> None:
        from kagura_magic import background

        if rest.strip():
            raise UsageError(f"unexpected {rest!r}: %agent wait takes nothing")
        if not background.wait_all():
            print("No background answers are streaming.")

    def _cmd_stop(self, rest: str) -> None:
        from kagura_magic import background

        if rest.strip():
            raise UsageError(f"unexpected {rest!r}: %agent stop takes nothing")
        answers = background.running()
        for handle in answers:
            handle.stop()
        background.wait_for(answers, timeout=5)
        count = len(answers)
        print(f"Stopped {count} background answer{'s' if count != 1 else ''}." if count else
              "No background answers are streaming.")  # fmt: skip

    def _cmd_reset(self, rest: str) -> None:
        name = self._chat_option(rest)
        chat = self.chats.get(name)
        count = len(chat) if chat is not None else 0
        if chat is not None:
            chat.reset()
        print(f"Conversation {name!r} cleared ({count} exchange{'s' if count != 1 else ''} forgotten).")

    def _cmd_history(self, rest: str) -> None:
        from kagura_magic import llm

        name = self._chat_option(rest)
        chat = self.chats.get(name) or Conversation()
        model = self.model or os.environ.get(MODEL_ENV_VAR)
        budget = _history_budget(model, self.max_tokens) if model else llm.DEFAULT_CONTEXT_WINDOW
        print(
            chat.report(
                name, budget, lambda messages: llm.count_tokens(model or "gpt-4o-mini", messages), model
            )
        )
        others = sorted(n for n, c in self.chats.items() if n != name and len(c))
        if others and len(chat):
            print(f"Other conversations: {', '.join(others)} (%agent history --chat NAME)")

    def _cmd_models(self, rest: str) -> None:
        from kagura_magic.llm import models_report

        print(models_report(rest.strip() or None))

    def _cmd_config(self, _rest: str) -> None:
        print(settings.report(self._defaults(), self.sources, self.settings_problems))

    def _cmd_fix(self, rest: str) -> None:
        """Send the last failing cell and its traceback; stream the explanation; offer the fix."""
        errors = self.shell.user_ns.get("Err") if self.shell is not None else None
        latest = errors.latest() if errors is not None else None
        if latest is None:
            print("No failing cell yet: %agent fix explains the latest error raised by a cell.")
            return
        number, error, code = latest
        prompt = FIX_PROMPT.format(
            number=number if number is not None else "?",
            code=formats.fenced(code, "python"),
            error=formats.fenced(error, "text"),
        )
        args = self._parse(rest)
        args.format = "code"
        args.no_template = True
        try:
            request = self._request(args, prompt)
        except AgentError as failure:
            raise CellFailed(str(failure)) from None
        self._ask(request)


def _history_budget(model: str, max_tokens: int | None) -> int:
    """Tokens of history ``model`` can take, leaving room for the answer (before the prompt itself)."""
    from kagura_magic import llm

    return llm.context_window(model) - (max_tokens or ANSWER_ROOM)


def _warm_up() -> None:
    """Pay every first-use cost of a cell in the background: litellm's import and
    first call, ipywidgets' import, the Markdown parser and pygments' lexers."""
    from kagura_magic.llm import warm_up

    warm_up()
    try:
        import ipywidgets  # noqa: F401

        from kagura_magic.markdown import MarkdownStream

        stream = MarkdownStream()
        stream.feed("**warm** `up` $x$\n\n| a |\n|---|\n| 1 |\n\n```python\nx = 1\n```\n")
        stream.snapshot()
        stream.finish()
    except Exception:  # an optimisation only; the cell reports real problems
        pass


def load_ipython_extension(ipython: Any) -> None:
    from kagura_magic import context

    magics = AgentMagics(shell=ipython)
    ipython.register_magics(magics)
    ipython.kagura_magics = magics  # reachable for tests and power users
    context.install(ipython, ignore=(CellFailed,))
    for problem in magics.settings_problems:
        print(f"kagura_magic: {problem}")
    if magics.warm_up:
        import threading

        # Not a daemon: a daemon thread frozen mid-import at interpreter exit keeps that
        # module's import lock forever, and litellm's finalizers import on their way out,
        # so `ipython -c` or a short script would hang at exit. Exit waits for it instead
        # (a second or two, only when the session is that short).
        threading.Thread(target=_warm_up, name="kagura-warmup", daemon=False).start()


def unload_ipython_extension(ipython: Any) -> None:
    if getattr(ipython, "kagura_magics", None) is not None:
        ipython.magics_manager.magics["line"].pop("agent", None)
        ipython.magics_manager.magics["cell"].pop("agent", None)
