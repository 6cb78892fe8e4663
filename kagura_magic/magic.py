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
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Dict, Enum, Float, Int, Unicode

from kagura_magic import formats
from kagura_magic.config import MODEL_ENV_VAR, LLMConfig, mask, masked_params, parse_params
from kagura_magic.errors import AgentError
from kagura_magic.history import ANSWER_ROOM, Conversation, Exchange, exchange_key
from kagura_magic.settings import load_user_settings
from kagura_magic.templating import render_template

SUBCOMMANDS = ("help", "history", "reset", "models", "config", "fix")
DEFAULT_CHAT = "default"
SETTINGS = (
    "model",
    "system",
    "temperature",
    "max_tokens",
    "api_base",
    "params",
    "timeout",
    "history",
    "template",
    "default_format",
    "warm_up",
    "view",
)

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
        lines = str(self).splitlines() or ["failed"]
        return [f"\x1b[1m{lines[0]}\x1b[0m", *lines[1:]]


@dataclass
class Request:
    """One ``%%agent`` run, after parsing: what to send and what to do with the answer."""

    prompt: str
    config: LLMConfig
    chat: str | None  # None: --no-history
    output_format: str
    out: str | None


@magics_class
class AgentMagics(Magics):
    """Stream a model's answer into the cell's output, as live Markdown."""

    model = Unicode(None, allow_none=True, help="Default model (else $KAGURA_MODEL).").tag(config=True)
    system = Unicode(None, allow_none=True, help="Default system prompt.").tag(config=True)
    temperature = Float(None, allow_none=True, help="Default temperature.").tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Default answer length limit.").tag(config=True)
    api_base = Unicode(None, allow_none=True, help="Default API base URL.").tag(config=True)
    params = Dict(help="Extra litellm parameters sent with every request.").tag(config=True)
    timeout = Float(120.0, help="Seconds without data before a request fails.").tag(config=True)
    history = Bool(True, help="Send earlier exchanges as conversation history.").tag(config=True)
    template = Bool(True, help="Render {{ expression }} in prompts.").tag(config=True)
    default_format = Enum(list(formats.FORMATS), "markdown", help="Default -f/--format.").tag(config=True)
    warm_up = Bool(True, help="Import and exercise litellm in the background when the extension loads.").tag(
        config=True
    )
    view = Enum(
        ["auto", "widget", "html", "terminal"],
        "auto",
        help="Live view: widgets in Jupyter, text in a terminal; 'html' for frontends without widgets.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chats: dict[str, Conversation] = {DEFAULT_CHAT: Conversation()}
        self.sources: dict[str, str] = {}
        self.settings_problems: list[str] = []
        self._apply_user_settings()
        self.observe(self._note_session_change, names=list(SETTINGS))

    # -- settings and where they came from --------------------------------------------
    def _apply_user_settings(self) -> None:
        """File values fill in what IPython config did not set (IPython config wins)."""
        configured = set(self.config.get("AgentMagics", {}))
        user = load_user_settings()
        self.settings_problems = user.problems
        for name in SETTINGS:
            if name in configured:
                self.sources[name] = "IPython config"
            elif name in user.values:
                try:
                    setattr(self, name, user.values[name])
                    self.sources[name] = f"config file {user.path}"
                except Exception as error:  # a wrong type in the file: say so, keep the default
                    self.settings_problems.append(
                        f"{user.path}: {name} = {user.values[name]!r} ignored ({error})."
                    )

    def _note_session_change(self, change: dict) -> None:
        self.sources[change["name"]] = "%config"

    @property
    def conversation(self) -> Conversation:
        return self.chats[DEFAULT_CHAT]

    # -- the magic ---------------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="litellm model, e.g. gpt-4o-mini or demo/showcase (offline)")
    @argument("--system", help="system prompt")
    @argument("--temperature", type=float, help="sampling temperature, 0-2")
    @argument("--max-tokens", type=int, help="maximum tokens in the answer")
    @argument("--api-base", help="base URL of an OpenAI-compatible server")
    @argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="extra litellm parameter, repeatable (e.g. --param tokens_per_second=0)",
    )
    @argument(
        "-f",
        "--format",
        choices=formats.FORMATS,
        help="markdown (default), text, code (code goes to the next cell), json (parsed into -o), html",
    )
    @argument(
        "-o", "--out", metavar="VAR", help="store the answer (parsed JSON for -f json) in this variable"
    )
    @argument(
        "--chat", metavar="NAME", help="which conversation this cell belongs to (default: the notebook's)"
    )
    @argument("--no-history", action="store_true", help="send this prompt without the conversation")
    @argument("--no-template", action="store_true", help="send the text as is, without {{ }} rendering")
    @argument("prompt", nargs="*", help="(line form) the prompt; in a cell, the cell body is the prompt")
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> None:
        """Ask a model; the answer streams into the output as Markdown.

        In a cell, ``%%agent [options]`` then the prompt. On one line,
        ``%agent [options] prompt`` or one of the subcommands
        ``%agent help | history | reset [--chat NAME] | models [provider] | config | fix``.
        ``{{ expression }}`` in the prompt is replaced by its value from the
        notebook (``In[n]``, ``Out[n]``, ``Err[-1]``, ``cell(n)`` and any
        variable; large values are summarised); other braces are left alone.
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
        try:
            request = self._request(args, body)
        except AgentError as error:
            raise CellFailed(str(error)) from None
        self._ask(request)

    # -- steps ---------------------------------------------------------------------------
    def _parse(self, line: str) -> Any:
        try:
            return parse_argstring(self.agent, line)
        except UsageError as error:
            raise UsageError(f"{error}\n{self._usage()}") from None
        except ValueError as error:  # unbalanced quotes
            raise UsageError(f"could not read the options: {error}\n{self._usage()}") from None

    def _usage(self) -> str:
        return (
            "usage: %%agent [-m MODEL] [--system TEXT] [--temperature T] [--max-tokens N] [--api-base URL] "
            "[--param KEY=VALUE] [-f FORMAT] [-o VAR] [--chat NAME] [--no-history] [--no-template]  "
            "(%%agent? for help)"
        )

    def _request(self, args: Any, body: str) -> Request:
        config = self._config(args)
        prompt = body if (args.no_template or not self.template) else self._render(body)
        use_history = self.history and not args.no_history
        return Request(
            prompt=prompt,
            config=config,
            chat=(args.chat or DEFAULT_CHAT) if use_history else None,
            output_format=args.format or self.default_format,
            out=args.out,
        )

    def _config(self, args: Any) -> LLMConfig:
        extra = {**self.params, **parse_params(args.param)}
        config = LLMConfig(
            model=args.model or self.model,
            system_prompt=args.system if args.system is not None else self.system,
            temperature=args.temperature if args.temperature is not None else self.temperature,
            max_tokens=args.max_tokens or self.max_tokens,
            api_base=args.api_base or self.api_base,
            extra=extra,
            timeout=self.timeout,
            enable_cache=False,
        )
        config.resolved_model()  # fail now, with the how-to message, not mid-display
        return config

    def _render(self, body: str) -> str:
        # Python's builtins (len, max, sorted…) as in a code cell; the user's names win.
        namespace = {**vars(builtins), **(self.shell.user_ns if self.shell is not None else {})}
        return render_template(body, namespace)

    def _cell_id(self) -> str | None:
        try:
            metadata = self.shell.get_parent().get("metadata") or {}
        except Exception:
            return None
        return metadata.get("cellId") or metadata.get("cell_id")

    def _budget(self, config: LLMConfig, current: list[dict]) -> tuple[str, int]:
        from kagura_magic import llm

        model = config.resolved_model()
        return model, max(_history_budget(model, config.max_tokens) - llm.count_tokens(model, current), 0)

    def _messages(self, request: Request, key: str) -> list[dict]:
        from kagura_magic import llm

        current = llm.build_messages(request.prompt, request.config.system_prompt)
        chat = self.chats.get(request.chat) if request.chat else None
        if chat is None or not len(chat):
            return current
        model, budget = self._budget(request.config, current)
        history, _dropped = chat.history_for(key, budget, lambda messages: llm.count_tokens(model, messages))
        system = [m for m in current if m["role"] == "system"]
        return [*system, *history, *(m for m in current if m["role"] != "system")]

    def _ask(self, request: Request) -> None:
        from kagura_magic.llm import call_llm_stream, litellm_ready, no_text_error, preflight
        from kagura_magic.views.pump import pump

        key = exchange_key(self._cell_id(), request.prompt)
        model = request.config.resolved_model()
        if litellm_ready():  # else the stream checks it; the spinner must not wait for an import
            try:
                preflight(request.config)
            except AgentError as error:
                raise CellFailed(str(error)) from None
        view = self._make_view(model, verbatim=request.output_format in ("text", "html"))
        view.start()
        try:
            stream = call_llm_stream(self._messages(request, key), request.config)
            outcome = pump(stream, view)
        except KeyboardInterrupt:  # before the stream started
            view.settle(None, metadata={"status": "interrupted"})
            raise CellFailed("Interrupted before the answer started.", interrupted=True) from None
        except AgentError as error:
            view.settle(None, metadata={"status": "error"})
            raise CellFailed(str(error)) from None
        metadata = {**stream.stats.as_metadata(), "status": "complete" if outcome.ok else "partial"}
        # The cell's error line below the output says what happened; the settled
        # output keeps the partial answer and its status line, without repeating it.
        if outcome.interrupted:
            view.settle(stream.stats, metadata=metadata)
            raise CellFailed(
                f"Interrupted: {model} stopped after {len(outcome.text)} characters; "
                "the partial answer is kept above.",
                interrupted=True,
            )
        if outcome.error is not None:
            view.settle(stream.stats, metadata=metadata)
            raise CellFailed(str(outcome.error))
        if not outcome.text:
            view.settle(stream.stats, metadata={**metadata, "status": "empty"})
            raise CellFailed(str(no_text_error(model, stream.stats.finish_reason)))
        self._deliver(request, view, outcome.text, stream.stats, metadata)
        if request.chat is not None:
            self.chats.setdefault(request.chat, Conversation()).record(
                Exchange(key, request.prompt, outcome.text, model)
            )

    def _deliver(self, request: Request, view: Any, text: str, stats: Any, metadata: dict) -> None:
        """Settle the view for the requested format; store ``-o``; offer code as the next cell."""
        metadata = {**metadata, "format": request.output_format}
        value: Any = text
        if request.output_format == "json":
            try:
                value = formats.parse_json_answer(text)
            except formats.FormatError as error:
                view.settle(stats, metadata={**metadata, "status": "invalid"})
                if getattr(stats, "finish_reason", None) == "length":  # cut off, not badly asked
                    raise CellFailed(
                        f"{error.message}\nThe answer was cut off at the token limit: raise --max-tokens."
                    ) from None
                raise CellFailed(str(error)) from None
            pretty = formats.pretty_json(value)
            from kagura_magic.markdown import render

            view.settle(
                stats,
                metadata=metadata,
                rendered=render(formats.fenced(pretty, "json")),
                extra={"application/json": value if isinstance(value, dict | list) else {"value": value}},
            )
        elif request.output_format == "html":
            # No text/markdown copy: a frontend that rendered that would see the raw HTML.
            view.settle(
                stats, metadata=metadata, rendered=formats.sanitize_html(text), omit=("text/markdown",)
            )
        else:
            view.settle(stats, metadata=metadata)
        if request.output_format == "code":
            code = formats.code_for_next_cell(text)
            if code is not None:
                value = code
                if self.shell is not None:
                    self.shell.set_next_input(code, replace=False)
        if request.out:
            self.shell.user_ns[request.out] = value

    def _make_view(self, model: str, verbatim: bool = False) -> Any:
        if self.view == "html":
            from kagura_magic.views.notebook import HtmlUpdateView

            return HtmlUpdateView(model, verbatim=verbatim)
        if self._wants_widgets():
            from kagura_magic.views.notebook import NotebookView

            return NotebookView(model, verbatim=verbatim)
        from kagura_magic.views.terminal import MagicTerminalView

        return MagicTerminalView(model)

    def _wants_widgets(self) -> bool:
        if self.view != "auto":
            return self.view == "widget"
        # A kernel talks to a frontend that renders widgets (JupyterLab, Notebook,
        # VS Code); terminal IPython and plain scripts do not.
        return type(self.shell).__name__ == "ZMQInteractiveShell"

    # -- subcommands ---------------------------------------------------------------------
    def _cmd_help(self, _rest: str) -> None:
        print(self.agent.__doc__)
        print(self._usage())

    def _chat_option(self, rest: str) -> str:
        words = rest.split()
        if words[:1] == ["--chat"] and len(words) == 2:
            return words[1]
        if words:
            raise UsageError(f"unexpected {rest!r}: use --chat NAME or nothing")
        return DEFAULT_CHAT

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
        chat = self.chats.get(name)
        if chat is None or not len(chat):
            print(
                f"No exchanges in conversation {name!r} yet: %%agent cells add to it (unless --no-history)."
            )
            return
        model = self.model or os.environ.get(MODEL_ENV_VAR)
        budget = _history_budget(model, self.max_tokens) if model else llm.DEFAULT_CONTEXT_WINDOW
        # "" is no cell's key: the plan for the next cell, whichever it is.
        planned = chat.plan("", budget, lambda messages: llm.count_tokens(model or "gpt-4o-mini", messages))
        used = sum(cost for _e, cost, kept in planned if kept)
        total = sum(cost for _e, cost, _kept in planned)
        sent = sum(1 for _e, _cost, kept in planned if kept)
        print(
            f"Conversation {name!r}: {len(planned)} exchange(s), {total:,} tokens; "
            f"the next cell sends {sent} ({used:,} of a {budget:,}-token budget"
            + (f" for {model}" if model else "")
            + "):"
        )
        for number, (exchange, cost, kept) in enumerate(planned, 1):
            prompt = exchange.prompt.strip().splitlines()[0][:60] if exchange.prompt.strip() else ""
            trimmed = "" if kept else "  [trimmed]"
            cell = exchange.key if not exchange.key.startswith("prompt:") else "(no cell id)"
            print(f"  {number}. {cell[:12]:<12} {exchange.model:<16} {cost:>6,} tokens  {prompt!r}{trimmed}")
        others = sorted(n for n, c in self.chats.items() if n != name and len(c))
        if others:
            print(f"Other conversations: {', '.join(others)} (%agent history --chat NAME)")

    def _cmd_models(self, rest: str) -> None:
        from kagura_magic.llm import list_models

        provider = rest.strip() or None
        rows = list_models(provider)
        if not rows:
            print(
                f"No chat models known for {provider!r}. Try `%agent models openai` or `%agent models demo`."
            )
            return
        if provider is None:
            print(
                f"{len(rows):,} chat models; `%agent models <provider>` narrows the list "
                "(e.g. openai, anthropic)."
            )
        for name, context, price in rows:
            details = []
            if context:
                details.append(f"{context:,} tokens")
            if price is not None:
                details.append(f"${price:.2f}/M output tokens")
            print(f"  {name}" + (f"  ({', '.join(details)})" if details else ""))

    def _cmd_config(self, _rest: str) -> None:
        from kagura_magic.settings import config_path

        env_model = os.environ.get(MODEL_ENV_VAR)
        for name in SETTINGS:
            value = getattr(self, name)
            source = self.sources.get(name, "default")
            if name == "model" and value is None and env_model:
                value, source = env_model, f"${MODEL_ENV_VAR}"
            if name == "params":
                value = masked_params(dict(value))
            print(f"{name:<15} {value!r:<32} [{source}]")
        keys = sorted(k for k in os.environ if k.endswith("_API_KEY"))
        print(
            f"{'api keys':<15} "
            + (", ".join(f"{k}={mask(os.environ[k])}" for k in keys) or "(none in environment)")
        )
        print(f"{'config file':<15} {config_path()}" + ("" if config_path().is_file() else " (not present)"))
        for problem in self.settings_problems:
            print(f"  ! {problem}")

    def _cmd_fix(self, rest: str) -> None:
        """Send the last failing cell and its traceback; stream the explanation; offer the fix."""
        errors = self.shell.user_ns.get("Err")
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
