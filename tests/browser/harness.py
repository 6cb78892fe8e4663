"""JupyterLab in a temporary directory, driven by Debian's Chromium through Playwright.

No pytest in here: ``conftest.py`` turns these into session fixtures, and the
module can also be used from a script to poke at the UI by hand::

    from tests.browser.harness import JupyterLabServer, launch_chromium, LabPage
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import nbformat

# Debian's Chromium; KAGURA_CHROMIUM points elsewhere (another distribution, a developer's machine).
CHROMIUM = os.environ.get("KAGURA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
]
VIEWPORT = {"width": 1280, "height": 900}

# User settings written into the temporary JUPYTERLAB_SETTINGS_DIR: nothing
# reaches the network, nothing pops up over the notebook, and every cell stays
# in the DOM (no windowing) so off-screen output areas can be inspected.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "maxNumberOutputs": 10000},
    "@jupyterlab/apputils-extension/themes": {"theme": "JupyterLab Light"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """``jupyter lab`` from this venv, on 127.0.0.1, with every Jupyter dir in a temp dir."""

    def __init__(self, base: Path | None = None) -> None:
        self._own_base = base is None
        self.base = Path(base or tempfile.mkdtemp(prefix="kagura-lab-"))
        self.root = self.base / "root"
        self.token = secrets.token_hex(16)
        self.port = 0
        self.url = ""
        self.log_path = self.base / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "IPYTHONDIR": "ipython",
            "MPLCONFIGDIR": "mpl",
        }
        for name, sub in dirs.items():
            path = self.base / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        # JUPYTER_DATA_DIR holds kernelspecs too: keep the venv's own on the path.
        data = self.base / "data"
        data.mkdir(exist_ok=True)
        env["JUPYTER_DATA_DIR"] = str(data)
        env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
        # The browser and the kernel never talk to a provider.
        for name in list(env):
            if name.endswith("_API_KEY") or name in ("KAGURA_MODEL", "BROWSER"):
                env.pop(name)
        return env

    def _write_settings(self, env: dict[str, str]) -> None:
        settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
        for plugin, values in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            target = settings / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=20",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--ServerApp.shutdown_no_activity_timeout=900",
            "--MappingKernelManager.cull_idle_timeout=0",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.collaborative=False",
            "--ServerApp.terminals_enabled=False",
            "--KernelSpecManager.ensure_native_kernel=True",
        ]

    def start(self, timeout: float = 60.0) -> JupyterLabServer:
        self.root.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        self._write_settings(env)
        self.port = free_port()
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        runtime = Path(env["JUPYTER_RUNTIME_DIR"])
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                message = f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}"
                self.stop()
                raise RuntimeError(message)
            for info_file in glob.glob(str(runtime / "jpserver-*.json")):
                with contextlib.suppress(OSError, ValueError):
                    info = json.loads(Path(info_file).read_text())
                    if info.get("pid") == self.proc.pid:
                        self.port = int(info["port"])
            if self._answers():
                self.url = f"http://127.0.0.1:{self.port}"
                return self
            time.sleep(0.2)
        message = f"jupyter lab did not answer within {timeout:.0f} s:\n{self.log_tail()}"
        self.stop()
        raise RuntimeError(message)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/api/status?token={self.token}", timeout=2
            ) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGINT twice is jupyter_server's "shut down now", kernels included.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None
        if self._own_base and not os.environ.get("KAGURA_KEEP_LAB"):
            shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- REST ------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel (sessions too), so tests do not share CPU with idle kernels."""
        with contextlib.suppress(Exception):
            for session in self.api("GET", "sessions"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"sessions/{session['id']}")
        with contextlib.suppress(Exception):
            for kernel in self.api("GET", "kernels"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"kernels/{kernel['id']}")

    def lab_url(self, notebook: str, workspace: str) -> str:
        # A workspace of its own, reset, so one test's open tabs never reappear in another.
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Code cells with these sources, saved into the server's root as ``name``."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        path = self.root / name
        nbformat.write(nb, path)
        return path

    def read_notebook(self, name: str) -> Any:
        return nbformat.read(self.root / name, as_version=4)


def launch_chromium(playwright: Any, user_data_dir: str) -> Any:
    """Debian's Chromium with a fresh profile; returns a persistent BrowserContext."""
    return playwright.chromium.launch_persistent_context(
        user_data_dir,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        device_scale_factor=1,
        service_workers="block",
        accept_downloads=False,
        timeout=60_000,
    )


# --------------------------------------------------------------------------------
# Pieces of JavaScript run in the page.

# The text a user reads in an output area, for the prefix comparison: without
# the stylesheet, the spinner and status line, the notes, and math (MathJax
# replaces TeX with its own nodes, whose text is not the source's).
JS_HELPERS = r"""
(() => {
  if (window.__kagura) return;
  // button: the Stop button (our rendered answers hold none: raw HTML is escaped).
  const SKIP = 'style, script, button, .kagura-spinner, .kagura-status, .kagura-status-text, .kagura-note, '
             + '.math, mjx-container, mjx-assistive-mml, .MathJax, .MathJax_Preview, .jp-OutputPrompt, '
             + '.jp-OutputArea-promptOverlay';
  function readable(node) {
    if (!node) return '';
    const clone = node.cloneNode(true);
    clone.querySelectorAll(SKIP).forEach(el => el.replaceWith(document.createTextNode(' ')));
    // innerText only works on rendered nodes: use textContent with block breaks.
    clone.querySelectorAll('p, div, li, tr, td, th, pre, h1, h2, h3, h4, h5, h6, br, blockquote, table')
      .forEach(el => el.append(document.createTextNode(' ')));
    return clone.textContent.replace(/\s+/g, ' ').trim();
  }
  function visible(el) {
    if (!el) return false;
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  }
  const BAD_URL = /^(javascript|vbscript|livescript|data:text|data:application)/;
  function danger(out) {
    const found = [];
    if (!out) return found;
    for (const el of out.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value.replace(/[\u0000-\u0020\u007f-\u00a0\u200b\ufeff]/g, '').toLowerCase();
        const urlish = /(href|src|action|data)$/.test(name);
        if (name.startsWith('on') || name === 'srcdoc' || (urlish && BAD_URL.test(value)))
          found.push(`${el.tagName} ${name}`);
      }
      if (/^(SCRIPT|IFRAME|OBJECT|EMBED|FORM|BASE|META)$/.test(el.tagName)) found.push(el.tagName);
    }
    return found;
  }
  function facts(cell) {
    const out = cell.querySelector('.jp-OutputArea');
    const spinner = out ? out.querySelector('.kagura-spinner') : null;
    return {
      t: performance.now(),
      text: readable(out),
      inner: out ? out.innerText : '',
      spinner: visible(spinner),
      spinnerInDom: !!spinner,
      widgets: out ? out.querySelectorAll('.widget-htmlmath').length : 0,
      live: out ? !!out.querySelector('.widget-vbox.kagura-md, .kagura-md.widget-vbox') : false,
      settled: out ? !!out.querySelector('div.kagura-md:not(.widget-vbox)') : false,
      status: out ? Array.from(out.querySelectorAll('.kagura-status')).map(e => e.innerText).join(' | ') : '',
      html: out ? out.innerHTML.length : 0,
      danger: danger(out),
    };
  }
  function output(index) {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    return cell ? cell.querySelector('.jp-OutputArea') : null;
  }
  window.__kagura = {readable, visible, facts, danger, output};
})();
"""

# Samples one cell every ~50 ms, and watches every DOM mutation for the spinner.
JS_START_SAMPLER = r"""
([index, every]) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const rec = {frames: [], seen: [], lastText: '', spinnerFirst: null, textFirst: null,
               spinnerWithText: 0, mutations: 0};
  window.__kaguraRec = rec;
  const k = window.__kagura;
  const observer = new MutationObserver(() => {
    rec.mutations++;
    const out = cell.querySelector('.jp-OutputArea');
    if (!out) return;
    const spinner = out.querySelector('.kagura-spinner');
    const tail = out.querySelectorAll('.widget-htmlmath');
    let hasText = false;
    for (const w of tail) { if (w.textContent.trim()) { hasText = true; break; } }
    if (!hasText) hasText = !!out.querySelector('div.kagura-md:not(.widget-vbox)');
    const now = performance.now();
    if (spinner && k.visible(spinner) && rec.spinnerFirst === null) rec.spinnerFirst = now;
    if (hasText && rec.textFirst === null) rec.textFirst = now;
    if (spinner && hasText) rec.spinnerWithText++;
    // Every distinct text the DOM held at the end of a task, not only every 50 ms.
    const text = k.readable(out);
    if (text !== rec.lastText) { rec.seen.push({t: now, text, live: true}); rec.lastText = text; }
  });
  observer.observe(cell, {childList: true, subtree: true, characterData: true, attributes: false});
  const timer = setInterval(() => rec.frames.push(k.facts(cell)), every);
  rec.stop = () => { observer.disconnect(); clearInterval(timer); };
  return true;
}
"""

JS_STOP_SAMPLER = r"""
() => { const rec = window.__kaguraRec; rec.stop();
        return {frames: rec.frames, seen: rec.seen, spinnerFirst: rec.spinnerFirst, textFirst: rec.textFirst,
                spinnerWithText: rec.spinnerWithText, mutations: rec.mutations}; }
"""

# Everything in the notebook panel that could run script: on* attributes and
# dangerous URLs in any URL-bearing attribute.
JS_DANGEROUS = r"""
(selector) => {
  const root = document.querySelector(selector) || document.body;
  const bad = [];
  const URL_ATTRS = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc', 'background',
                     'poster', 'codebase', 'cite', 'dynsrc', 'lowsrc', 'ping'];
  const all = [root, ...root.querySelectorAll('*')];
  for (const el of all) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\u0000-\u0020\u007f-\u00a0\u200b\ufeff]/g, '').toLowerCase();
      if (name.startsWith('on')) bad.push(`${el.tagName} ${name}="${attr.value.slice(0, 60)}"`);
      if (name === 'srcdoc') bad.push(`${el.tagName} srcdoc`);
      if (URL_ATTRS.includes(name) || name.endsWith(':href')) {
        if (/^(javascript|vbscript|data:text|data:application|livescript):?/.test(value)
            || value.startsWith('javascript') || value.startsWith('vbscript')) {
          bad.push(`${el.tagName} ${name}="${attr.value.slice(0, 60)}"`);
        }
      }
    }
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'frame', 'frameset', 'base', 'form', 'meta'].includes(tag)
        && el.closest('.jp-OutputArea')) {
      bad.push(`<${tag}> element in an output area`);
    }
  }
  return bad;
}
"""


class LabPage:
    """One JupyterLab page with one notebook open, and what a user does with it."""

    def __init__(self, page: Any, server: JupyterLabServer, workspace: str) -> None:
        self.page = page
        self.server = server
        self.workspace = workspace
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._on_console)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    # -- opening ---------------------------------------------------------------
    def open(self, notebook: str, timeout: float = 60_000) -> None:
        self.notebook = notebook
        self.page.goto(self.server.lab_url(notebook, self.workspace), wait_until="domcontentloaded")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout)
        self.page.add_script_tag(content=JS_HELPERS)
        self.wait_notebook_ready(timeout)

    def wait_notebook_ready(self, timeout: float = 60_000) -> None:
        """The notebook tab is current, its cells are in the DOM and its kernel is idle."""
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=timeout)
        self.page.wait_for_function(
            """(name) => {
                const w = window.jupyterapp.shell.currentWidget;
                if (!w || !w.context || !w.context.path.endsWith(name)) return false;
                const s = w.sessionContext;
                return !!(s && s.session && s.session.kernel && s.session.kernel.status === 'idle'
                          && w.context.isReady);
            }""",
            arg=self.notebook,
            timeout=timeout,
        )
        if self.page.evaluate("() => !window.__kagura"):
            self.page.add_script_tag(content=JS_HELPERS)

    # -- running ---------------------------------------------------------------
    def cells(self) -> Any:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")

    def select_cell(self, index: int) -> None:
        """Click the cell's prompt area: selects it in command mode, as a user would."""
        cell = self.cells().nth(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").first.click()

    def run_cell(self, index: int) -> None:
        """Select a cell and press Shift+Enter."""
        self.select_cell(index)
        self.page.keyboard.press("Shift+Enter")

    def wait_cell_done(self, index: int, timeout: float = 60_000) -> None:
        """The cell got its execution count and the kernel is idle again."""
        self.page.wait_for_function(
            """(index) => {
                const w = window.jupyterapp.shell.currentWidget;
                const cell = w.content.widgets[index];
                const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
                const count = cell.model.executionCount;
                const prompt = cell.node.querySelector('.jp-InputPrompt');
                const busy = prompt && prompt.textContent.includes('*');
                return count !== null && !busy && kernel && kernel.status === 'idle';
            }""",
            arg=index,
            timeout=timeout,
        )

    def output_area(self, index: int) -> Any:
        return self.cells().nth(index).locator(".jp-OutputArea").first

    def facts(self, index: int) -> dict[str, Any]:
        return self.page.evaluate(
            "(i) => window.__kagura.facts(document.querySelectorAll('.jp-Notebook .jp-Cell')[i])", index
        )

    def start_sampler(self, index: int, every_ms: int = 50) -> None:
        self.page.evaluate(JS_START_SAMPLER, [index, every_ms])

    def stop_sampler(self) -> dict[str, Any]:
        return self.page.evaluate(JS_STOP_SAMPLER)

    def wait_live(self, index: int, selectors: list[str], timeout: float = 60_000) -> None:
        """The live widget view of a cell shows all these elements (mid-stream)."""
        self.page.wait_for_function(
            """([i, selectors]) => {
                const out = window.__kagura.output(i);
                return !!out && selectors.every(s => out.querySelector('.widget-htmlmath ' + s));
            }""",
            arg=[index, selectors],
            timeout=timeout,
            polling=50,
        )

    def wait_text(self, index: int, characters: int, timeout: float = 60_000) -> None:
        """The cell's output shows at least this many characters of answer text."""
        self.page.wait_for_function(
            "([i, n]) => window.__kagura.readable(window.__kagura.output(i)).length >= n",
            arg=[index, characters],
            timeout=timeout,
            polling=50,
        )

    def wait_settled(self, index: int, timeout: float = 60_000) -> None:
        """The live widgets were replaced by the static HTML output."""
        self.page.wait_for_function(
            """(i) => {
                const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
                return cell && !!cell.querySelector('.jp-OutputArea div.kagura-md:not(.widget-vbox)');
            }""",
            arg=index,
            timeout=timeout,
        )

    def wait_typeset(self, index: int, timeout: float = 30_000) -> None:
        """Every math element in the cell's output has been typeset by MathJax."""
        self.page.wait_for_function(
            """(i) => {
                const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
                const maths = cell.querySelectorAll('.jp-OutputArea .math');
                return maths.length > 0 && Array.from(maths).every(m => m.querySelector('mjx-container'));
            }""",
            arg=index,
            timeout=timeout,
        )

    # -- commands --------------------------------------------------------------
    def command(self, name: str, args: dict[str, Any] | None = None) -> Any:
        return self.page.evaluate(
            "([name, args]) => window.jupyterapp.commands.execute(name, args || {})", [name, args]
        )

    def save(self) -> None:
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget; return w && !w.context.model.dirty; }",
            timeout=30_000,
        )

    def close_notebook(self) -> None:
        """Close the notebook's tab with the tab's close icon."""
        tab = self.page.locator(
            ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current, "
            ".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current"
        ).first
        tab.locator(".lm-TabBar-tabCloseIcon").click()
        # A "save changes?" dialog would mean the save did not take.
        self.page.wait_for_selector(".jp-NotebookPanel", state="detached", timeout=30_000)

    def reopen_notebook(self) -> None:
        """Open the notebook again from the file browser (double-click), as a user would."""
        self.command("filebrowser:activate")
        item = self.page.locator(f'.jp-DirListing-item[title^="Name: {self.notebook}"]').first
        if item.count() == 0:
            item = self.page.locator(".jp-DirListing-item", has_text=self.notebook).first
        item.dblclick()
        self.wait_notebook_ready()

    def interrupt_button(self) -> Any:
        return self.page.locator(
            '.jp-NotebookPanel-toolbar [data-command="notebook:interrupt-kernel"], '
            '.jp-NotebookPanel-toolbar [title="Interrupt the kernel"]'
        ).first

    def restart_kernel(self) -> None:
        """Kernel menu → Restart Kernel…, then confirm the dialog."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
        self.page.locator('.lm-Menu-item[data-command="kernelmenu:restart"]').first.click()
        self.page.locator(".jp-Dialog .jp-mod-accept").first.click()
        self.page.wait_for_selector(".jp-Dialog", state="detached", timeout=10_000)
        self.wait_notebook_ready()

    def set_theme(self, theme: str) -> None:
        self.command("apputils:change-theme", {"theme": theme})
        self.page.wait_for_function(
            "(theme) => document.body.dataset.jpThemeName === theme", arg=theme, timeout=20_000
        )
        # The theme's CSS is applied when data-jp-theme-name changes; let it paint.
        self.page.wait_for_timeout(300)

    def dangerous_elements(self, selector: str = ".jp-NotebookPanel") -> list[str]:
        return self.page.evaluate(JS_DANGEROUS, selector)

    def xss_fired(self) -> Any:
        return self.page.evaluate(
            "() => typeof window.__xss_fired === 'undefined' ? null : window.__xss_fired"
        )

    def screenshot(self, folder: Path, name: str, index: int | None = None) -> Path:
        """The window, or (with ``index``) that cell's whole output area, however tall."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        if index is None:
            self.page.screenshot(path=str(path))
            return path
        # JupyterLab scrolls inside the notebook panel, so an output taller than the
        # window cannot be captured whole: grow the window to fit it, then restore.
        target = self.cells().nth(index).locator(".jp-Cell-outputWrapper").first
        height = target.evaluate("(el) => el.getBoundingClientRect().height")
        size = self.page.viewport_size or VIEWPORT
        tall = max(size["height"], min(int(height) + 260, 6000))
        try:
            if tall != size["height"]:
                self.page.set_viewport_size({"width": size["width"], "height": tall})
                self.page.wait_for_timeout(250)
            target.scroll_into_view_if_needed()
            target.screenshot(path=str(path))
        finally:
            if tall != size["height"]:
                self.page.set_viewport_size(size)
        return path


# --------------------------------------------------------------------------------
# Notebook 7, math and table measurements (issue 17)


def notebook7_missing() -> str | None:
    """Why Notebook 7 cannot be tested here, or None when ``notebook>=7`` is importable."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec("notebook") is None:
        return "the notebook package (Notebook 7) is not installed in this venv"
    try:
        version = importlib.metadata.version("notebook")
    except importlib.metadata.PackageNotFoundError:
        return "the notebook package has no metadata"
    if int(version.split(".")[0]) < 7:
        return f"notebook {version} is not Notebook 7"
    return None


class NotebookServer(JupyterLabServer):
    """``jupyter notebook`` (Notebook 7) set up like ``JupyterLabServer``: same dirs, same settings.

    ``LabPage`` drives it unchanged: ``lab_url`` opens the notebook in Notebook 7's
    own single-document page, where ``window.jupyterapp`` is exposed as in JupyterLab.
    """

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "notebook",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=20",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--ServerApp.shutdown_no_activity_timeout=900",
            "--MappingKernelManager.cull_idle_timeout=0",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            "--ServerApp.terminals_enabled=False",
            "--KernelSpecManager.ensure_native_kernel=True",
        ]

    def lab_url(self, notebook: str, workspace: str) -> str:
        return f"{self.url}/notebooks/{notebook}?token={self.token}"


# Every MathJax element that ever appears in one cell's output, with its TeX:
# a MutationObserver (every DOM change) and an animation-frame loop (every frame
# painted) both scan for new <mjx-container>s. The TeX comes from MathJax's own
# document: its render() is wrapped (observation only) to note each math item's
# source against the element it produced. ``marked``: inside an element the
# engine marked as math (``.mathjax_process``); ``live``: inside a widget.
JS_START_MATH_RECORDER = r"""
async (index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  if (window.__kaguraMath) window.__kaguraMath.stop();
  const texOf = window.__kaguraTexOf || (window.__kaguraTexOf = new WeakMap());
  const panel = window.jupyterapp.shell.currentWidget;
  const rendermime = panel && panel.content && panel.content.rendermime;
  const typesetter = rendermime && rendermime.latexTypesetter;
  let hooked = false;
  if (typesetter && typeof typesetter.mathDocument === 'function') {
    const doc = await typesetter.mathDocument();
    if (doc && !doc.__kaguraHooked) {
      const render = doc.render;
      doc.render = function (...args) {
        const result = render.apply(this, args);
        const items = this.math.toArray ? this.math.toArray() : Array.from(this.math);
        for (const item of items) if (item.typesetRoot) texOf.set(item.typesetRoot, item.math);
        return result;
      };
      doc.__kaguraHooked = true;
    }
    hooked = !!doc;
  }
  const rec = {hooked, math: [], frames: 0, mutations: 0, seen: new WeakSet()};
  const describe = (el) => {
    const block = el.parentElement.closest('p, li, td, th, h1, h2, h3, h4, h5, h6, blockquote, div');
    if (!block) return '';
    const clone = block.cloneNode(true);
    const originals = block.querySelectorAll('mjx-container');
    clone.querySelectorAll('mjx-container').forEach((m, n) => {
      const tex = texOf.get(originals[n]);
      m.replaceWith(originals[n] === el ? `[[${tex}]]` : `[${tex}]`);
    });
    return clone.textContent.replace(/\s+/g, ' ').trim().slice(0, 160);
  };
  const scan = (via) => {
    const out = cell.querySelector('.jp-OutputArea');
    if (!out) return;
    for (const el of out.querySelectorAll('mjx-container')) {
      if (rec.seen.has(el)) continue;
      rec.seen.add(el);
      const mml = el.querySelector('mjx-assistive-mml');
      rec.math.push({
        t: performance.now(),
        tex: texOf.has(el) ? texOf.get(el) : null,
        mml: mml ? mml.textContent : '',
        marked: !!el.closest('.mathjax_process, .tex2jax_process'),
        live: !!el.closest('.widget-htmlmath'),
        settled: !!el.closest('div.kagura-md:not(.widget-vbox)'),
        display: el.getAttribute('display') === 'true',
        context: describe(el),
        via,
      });
    }
  };
  const observer = new MutationObserver(() => { rec.mutations++; scan('mutation'); });
  observer.observe(cell, {childList: true, subtree: true, characterData: true});
  let raf = 0;
  const frame = () => { rec.frames++; scan('frame'); raf = requestAnimationFrame(frame); };
  raf = requestAnimationFrame(frame);
  rec.stop = () => { observer.disconnect(); cancelAnimationFrame(raf); scan('stop'); };
  window.__kaguraMath = rec;
  return hooked;
}
"""

JS_STOP_MATH_RECORDER = r"""
() => { const rec = window.__kaguraMath; rec.stop();
        return {hooked: rec.hooked, math: rec.math, frames: rec.frames, mutations: rec.mutations}; }
"""


def start_math_recorder(lab: LabPage, index: int) -> bool:
    """Record every math element of cell ``index`` from now on; True when TeX can be read."""
    return bool(lab.page.evaluate(JS_START_MATH_RECORDER, index))


def stop_math_recorder(lab: LabPage) -> dict[str, Any]:
    """``{hooked, math: [{tex, mml, marked, live, settled, display, context, t, via}], frames, ...}``."""
    return lab.page.evaluate(JS_STOP_MATH_RECORDER)


# Words split across lines in table cells. For each <th>/<td> under ``selector``
# in cell ``index``'s output: every character's line (Range.getClientRects), then
# each whitespace-separated token whose characters sit on more than one line,
# written with "|" at the break. ``letters`` marks a break between two letters
# or digits (``Severit|y``); otherwise the break follows punctuation (``INC-|2291``).
# ``code``: the token is (partly) inline code.
JS_TABLE_WORD_SPLITS = r"""
([index, selector]) => {
  const out = window.__kagura.output(index);
  const cells = out ? out.querySelectorAll(selector) : [];
  const splits = [];
  const alnum = /[\p{L}\p{N}]/u;
  for (const cell of cells) {
    const chars = [];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      if (node.parentElement.closest('mjx-container, style, script')) continue;
      const code = !!node.parentElement.closest('code');
      for (let k = 0; k < node.data.length; k++) {
        const range = document.createRange();
        range.setStart(node, k);
        range.setEnd(node, k + 1);
        const rect = Array.from(range.getClientRects()).find(r => r.width > 0);
        chars.push({c: node.data[k], top: rect ? rect.top : null, code});
      }
    }
    let word = [];
    const finish = () => {
      let shown = '', last = null, letters = false;
      for (let n = 0; n < word.length; n++) {
        const ch = word[n];
        if (ch.top !== null && last !== null && Math.abs(ch.top - last.top) > 2) {
          shown += '|';
          if (alnum.test(last.c) && alnum.test(ch.c)) letters = true;
        }
        shown += ch.c;
        if (ch.top !== null) last = ch;
      }
      if (shown.includes('|')) {
        const text = cell.textContent.trim().slice(0, 80);
        const code = word.some(ch => ch.code);
        splits.push({word: shown, letters, code, header: cell.tagName === 'TH', cell: text});
      }
      word = [];
    };
    for (const ch of chars) { if (/\s/.test(ch.c)) finish(); else word.push(ch); }
    finish();
  }
  return splits;
}
"""


def table_word_splits(lab: LabPage, index: int, selector: str = "table th, table td") -> list[dict[str, Any]]:
    """Tokens of table cells in cell ``index``'s output that wrap onto two lines (see the JS above)."""
    return lab.page.evaluate(JS_TABLE_WORD_SPLITS, [index, selector])
