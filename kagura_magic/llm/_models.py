"""The model catalogue, as a list and as the ``%agent models`` report.

litellm knows some 3,500 chat models from more than 100 providers: too many
to print. With no provider the report is a bounded overview: the offline demo
models, then a few models of each main provider, then every provider with its
count, to ask for by name. With a provider it lists all of that provider's
chat models.

litellm's list has no notion of popularity, so "a few" means the newest
stable names: no dated snapshots, previews or fine-tunes (the names people
type), highest version first. That stays right as litellm's list changes,
where a hand-picked list would go stale.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter

from kagura_magic.llm._backend import ModelInfo, chat_models

MAIN_PROVIDERS = ("openai", "anthropic", "gemini", "mistral", "deepseek", "xai")
SHOWN_PER_PROVIDER = 5

Row = tuple[str, int | None, float | None]

# A dated snapshot (-2024-08-06, -20241022, -0613, -2512) or a name for something else than chat.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})(\b|$)|-\d{2}-\d{4}$")
_NOT_STABLE = re.compile(
    r"^ft:|preview|exp|beta|audio|realtime|search|tts|transcribe|computer-use|container|robotics|"
    r"lyria|guard|deep-research|-(non-)?reasoning|customtools",
    re.I,
)
_VERSION = re.compile(r"\d+(?:\.\d+)?(?![\d.]|[bBkKmM]\b)")  # 4.1, 5, 3 of o3; not the 14 of 14b


def list_models(provider: str | None = None) -> list[Row]:
    """Known chat models: (name, context tokens, USD per million output tokens), demo first."""
    from kagura_magic.providers import demo

    rows = [
        (m.name, m.context, m.usd_per_million_output)
        for m in chat_models()
        if not provider or provider in (m.provider, m.name.split("/", 1)[0])
    ]
    rows.sort(key=lambda row: (not row[0].startswith(f"{demo.PROVIDER}/"), row[0]))
    return rows


def models_report(provider: str | None = None) -> str:
    """What ``%agent models [PROVIDER]`` prints: an overview, or one provider's chat models."""
    if provider:
        return _provider_report(provider)
    from kagura_magic.providers import demo

    models = chat_models()
    counts = Counter(m.provider for m in models)
    sections = [_section("demo (offline, no key needed)", [m for m in models if m.provider == demo.PROVIDER])]
    for name in MAIN_PROVIDERS:
        mine = [m for m in models if m.provider == name]
        if mine:
            shown = featured(mine)
            sections.append(_section(f"{name} ({len(shown)} of {len(mine)})", shown))
    # No-break spaces keep "name count" together; they are plain spaces again once wrapped.
    everyone = ", ".join(f"{name}\xa0{n}" for name, n in counts.most_common() if name != demo.PROVIDER)
    footer = textwrap.fill(
        f"`%agent models PROVIDER` lists all of a provider's chat models. "
        f"{sum(counts.values()):,} in all, by provider: {everyone}.",
        width=100,
        break_on_hyphens=False,
        break_long_words=False,
    ).replace("\xa0", " ")
    return "\n\n".join([*sections, footer])


def featured(models: list[ModelInfo], limit: int = SHOWN_PER_PROVIDER) -> list[ModelInfo]:
    """A provider's newest stable models (see the module docstring); any models if none look stable."""
    stable = [m for m in models if not _SNAPSHOT.search(m.name) and not _NOT_STABLE.search(m.name)]
    shown: dict[str, ModelInfo] = {}
    for model in sorted(stable or models, key=_newest_first):
        shown.setdefault(model.name.rsplit("/", 1)[-1], model)  # deepseek-chat = deepseek/deepseek-chat
    return list(shown.values())[:limit]


def _newest_first(model: ModelInfo) -> tuple[tuple[int, ...], str]:
    """Higher versions first, each number as (major, minor), so 5.5 > 5 > 4.1 and 4-5 > 4."""
    key: list[int] = []
    for number in _VERSION.findall(model.name)[:3]:
        major, _, minor = number.partition(".")
        key += [-int(major), -int(minor or 0)]
    return tuple(key + [0] * (6 - len(key))), model.name


def _provider_report(provider: str) -> str:
    rows = list_models(provider)
    if not rows:
        return f"No chat models known for {provider!r}. Try `%agent models openai` or `%agent models demo`."
    width = min(max(len(name) for name, _, _ in rows), 60)
    lines = [f"{provider}: {len(rows):,} chat models"]
    lines += [_line(name, context, price, width) for name, context, price in rows]
    return "\n".join(lines)


def _section(title: str, models: list[ModelInfo]) -> str:
    width = min(max((len(m.name) for m in models), default=0), 60)
    rows = [_line(m.name, m.context, m.usd_per_million_output, width) for m in models]
    return "\n".join([f"{title}:", *rows])


def _line(name: str, context: int | None, price: float | None, width: int) -> str:
    details = []
    if context:
        details.append(f"{context:,} tokens")
    if price is not None:
        details.append(f"${price:.2f}/M output tokens")
    return f"  {name:<{width}}  {', '.join(details)}".rstrip()
