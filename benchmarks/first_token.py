"""Time to first token: our ``call_llm_stream`` against raw httpx, same server, same run.

    .venv/bin/python benchmarks/first_token.py [--runs 40]

Both clients hit the local OpenAI-compatible server (tests/openai_server.py)
on 127.0.0.1, so the difference is what litellm and our layer add before the
first piece of text reaches the caller. Also prints the import cost of
``kagura_magic`` (which must not import litellm) and of litellm itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.openai_server import OpenAIServer  # noqa: E402

PROMPT = "The quick brown fox jumps over the lazy dog, again and again and again."


async def ttft_ours(api_base: str) -> float:
    from kagura_magic.config import LLMConfig
    from kagura_magic.llm import call_llm_stream

    config = LLMConfig(model="openai/ok", api_base=api_base, api_key="sk-bench-000000")
    started = time.perf_counter()
    stream = call_llm_stream(PROMPT, config)
    async for _ in stream:
        first = time.perf_counter() - started
        break
    await stream.aclose()
    return first


async def ttft_httpx(client, api_base: str) -> float:
    body = {"model": "ok", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
    started = time.perf_counter()
    async with client.stream("POST", f"{api_base}/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0]["delta"]
                if delta.get("content"):
                    return time.perf_counter() - started
    raise RuntimeError("no content")


def import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    return statistics.median(times)


async def main(runs: int) -> None:
    import httpx

    from kagura_magic.llm import load_litellm

    server = OpenAIServer().start()
    load_litellm()
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(3):  # warm both paths: connection pools, first-call setup
            await ttft_ours(server.api_base)
            await ttft_httpx(client, server.api_base)
        ours, raw = [], []
        for _ in range(runs):  # interleaved so machine noise hits both alike
            ours.append(await ttft_ours(server.api_base))
            raw.append(await ttft_httpx(client, server.api_base))
    server.stop()
    median_ours, median_raw = statistics.median(ours) * 1000, statistics.median(raw) * 1000
    print(f"time to first token, median of {runs} (local server, warm):")
    print(f"  raw httpx         {median_raw:8.2f} ms")
    print(f"  call_llm_stream   {median_ours:8.2f} ms")
    print(f"  difference        {median_ours - median_raw:8.2f} ms  (ratio {median_ours / median_raw:.1f}x)")
    print("import cost, median of 5 fresh interpreters:")
    print(f"  import kagura_magic  {import_ms('import kagura_magic'):8.1f} ms  (target < 150 ms)")
    print(f"  import litellm       {import_ms('import litellm'):8.1f} ms  (what lazy import saves)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    asyncio.run(main(parser.parse_args().runs))
