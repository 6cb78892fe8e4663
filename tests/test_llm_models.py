"""The model catalogue and the ``%agent models`` report (kagura_magic/llm/_models.py)."""

from __future__ import annotations

from collections import Counter

from kagura_magic import llm
from kagura_magic.llm._backend import ModelInfo, chat_models
from kagura_magic.llm._models import MAIN_PROVIDERS, SHOWN_PER_PROVIDER, featured
from kagura_magic.providers.demo import DEMO_MODELS


def info(name: str, provider: str = "openai") -> ModelInfo:
    return ModelInfo(name=name, provider=provider, context=128_000, usd_per_million_output=1.0)


def test_list_models_puts_the_demo_first_and_filters_by_provider() -> None:
    rows = llm.list_models()
    assert [name for name, _, _ in rows[: len(DEMO_MODELS)]] == sorted(f"demo/{m}" for m in DEMO_MODELS)
    anthropic = llm.list_models("anthropic")
    assert anthropic and all("claude" in name for name, _, _ in anthropic)
    assert all(context is None or context > 0 for _, context, _ in anthropic)


def test_the_overview_is_bounded_and_starts_with_the_offline_models() -> None:
    report = llm.models_report()
    lines = report.splitlines()
    assert len(lines) < 120 and len(llm.list_models()) > 1000, "an overview, not the whole catalogue"
    assert lines[0].startswith("demo (offline") and all(f"demo/{m}" in report for m in DEMO_MODELS)
    assert "128,000 tokens" in report and "/M output tokens" in report


def test_the_overview_shows_a_few_of_each_main_provider() -> None:
    report = llm.models_report()
    counts = Counter(m.provider for m in chat_models())
    for provider in MAIN_PROVIDERS:
        if counts[provider]:
            shown = min(SHOWN_PER_PROVIDER, counts[provider])
            assert f"\n{provider} ({shown} of {counts[provider]}):\n" in report


def test_the_last_lines_say_how_to_see_the_rest_with_every_providers_count() -> None:
    report = llm.models_report()
    footer = report.split("\n\n")[-1]
    assert footer.startswith("`%agent models PROVIDER` lists all of a provider's chat models.")
    counts = Counter(m.provider for m in chat_models())
    joined = " ".join(footer.split())
    for provider, count in counts.items():
        if provider != "demo":
            assert f"{provider} {count}" in joined


def test_one_provider_lists_all_its_chat_models_sorted() -> None:
    report = llm.models_report("anthropic")
    lines = report.splitlines()
    names = [line.split()[0] for line in lines[1:]]
    assert lines[0] == f"anthropic: {len(llm.list_models('anthropic'))} chat models"
    assert names == sorted(names) == [name for name, _, _ in llm.list_models("anthropic")]


def test_an_unknown_provider_says_what_to_try() -> None:
    assert llm.models_report("nope") == (
        "No chat models known for 'nope'. Try `%agent models openai` or `%agent models demo`."
    )


def test_featured_models_are_the_newest_stable_names() -> None:
    models = [
        info(name)
        for name in (
            "gpt-4o-2024-08-06",
            "gpt-4o",
            "gpt-5",
            "gpt-5.5",
            "gpt-4.1-mini",
            "ft:gpt-4o",
            "gpt-5-preview",
            "gpt-4o-audio",
            "o3",
        )
    ]
    assert [m.name for m in featured(models)] == ["gpt-5.5", "gpt-5", "gpt-4.1-mini", "gpt-4o", "o3"]


def test_a_model_listed_with_and_without_its_prefix_is_shown_once() -> None:
    models = [info("deepseek-chat", "deepseek"), info("deepseek/deepseek-chat", "deepseek")]
    assert [m.name for m in featured(models)] == ["deepseek-chat"]
