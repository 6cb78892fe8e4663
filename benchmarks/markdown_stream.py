"""Benchmark: MarkdownStream against re-rendering the whole answer on every chunk.

Run: ``.venv/bin/python benchmarks/markdown_stream.py``

For generated answers of about 1, 10, 30 and 100 KB streamed in 4-character
chunks, it prints per size:

- CPU, total and per chunk, of ``feed`` + ``snapshot()`` after every chunk
  (the worst case), and with a frame every 8th chunk (a view at ~30 frames/s
  while tokens arrive at ~250 chunks/s);
- CPU of the naive approach, ``render(whole text so far)`` per chunk, and the ratio;
- bytes a view sends (each committed block once + the tail on every frame)
  against naive (the full HTML on every frame), as multiples of the final HTML;
- the prefix-stable rate: frames that are balanced HTML whose visible text is
  a prefix of the final visible text.

Naive CPU and bytes are measured on evenly spaced sample frames and scaled to
all frames (full runs would take minutes at 100 KB); the output says how many.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from html.parser import HTMLParser

from answers import realistic_answer

from kagura_magic.markdown import MarkdownStream, render

SIZES = [1_000, 10_000, 30_000, 100_000]
CHUNK = 4
CADENCE = 8  # chunks per frame for a view refreshing ~30 times a second
NAIVE_SAMPLES = {1_000: None, 10_000: 200, 30_000: 100, 100_000: 40}  # None: every frame
VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(html: str) -> tuple[str, bool]:
    """(visible text, balanced) of an HTML fragment."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts), parser.balanced and not parser.stack


def _collapse(text: str) -> str:
    return " ".join(text.split())


class FrameCheck:
    """Checks frames against the final visible text, parsing committed HTML only once."""

    def __init__(self, final_html: str) -> None:
        self.final = _collapse(_text(final_html)[0])
        self.seen = 0
        self.raw = ""
        self.collapsed = ""
        self.committed_ok = True

    def __call__(self, stream: MarkdownStream) -> bool:
        committed = stream.committed_html
        if len(committed) > self.seen:
            text, balanced = _text(committed[self.seen :])
            self.seen = len(committed)
            self.raw += text
            self.collapsed = _collapse(self.raw)
            self.committed_ok = balanced and self.final.startswith(self.collapsed)
        tail_text, balanced = _text(stream.tail_html())
        shown = _collapse(tail_text)
        if not (self.committed_ok and balanced):
            return False
        if not shown:
            return True
        gap = self.collapsed and (self.raw[-1:].isspace() or tail_text[:1].isspace())
        return self.final.startswith((" " if gap else "") + shown, len(self.collapsed))


def _chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]


def _is_frame(index: int, count: int, every: int) -> bool:
    """Frames a view would draw: the first chunk at once, then every ``every``-th."""
    return index == 0 or (index + 1) % every == 0 or index == count - 1


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def stream_cpu(chunks: list[str], every: int) -> float:
    """CPU seconds to feed every chunk and take a snapshot on each frame."""

    def run() -> None:
        stream = MarkdownStream()
        for index, chunk in enumerate(chunks):
            stream.feed(chunk)
            if _is_frame(index, len(chunks), every):
                stream.snapshot()

    return _cpu(run)


def _patch_size(before: str, after: str) -> int:
    """Bytes of a patch "keep N characters, then append S" from one tail frame to the next."""
    limit = min(len(before), len(after))
    same = 0
    while same < limit and before[same] == after[same]:
        same += 1
    return 8 + len(after[same:].encode())


def stream_wire(chunks: list[str], final: str, every: int) -> tuple[int, int, float]:
    """(bytes sent with whole tail frames, bytes with tail patches, prefix-stable rate)."""
    check = FrameCheck(final)
    stream = MarkdownStream()
    whole = patched = committed = stable = frames = 0
    previous_tail = ""
    for index, chunk in enumerate(chunks):
        stream.feed(chunk)
        if not _is_frame(index, len(chunks), every):
            continue
        new = stream.committed_html[committed:]
        committed += len(new)
        tail = stream.tail_html()
        whole += len(new.encode()) + len(tail.encode())
        patched += len(new.encode()) + _patch_size("" if new else previous_tail, tail)
        previous_tail = tail
        stable += check(stream)
        frames += 1
    assert stream.finish() == final, "finish() must equal render(text)"
    return whole, patched, stable / frames


def naive(text: str, chunks: list[str], samples: int | None) -> tuple[float, int, int]:
    """(CPU seconds, bytes, frames measured) of render() per chunk, scaled from samples."""
    ends = [min(len(text), (i + 1) * CHUNK) for i in range(len(chunks))]
    picked = ends if samples is None else ends[:: max(1, len(ends) // samples)]
    sizes: list[int] = []

    def run() -> None:
        for end in picked:
            sizes.append(len(render(text[:end]).encode()))

    cpu = _cpu(run)
    scale = len(ends) / len(picked)
    return cpu * scale, int(sum(sizes) * scale), len(picked)


def main() -> None:
    render(realistic_answer(2_000, seed=99))  # warm up imports, lexers, caches
    print(f"Answers streamed in {CHUNK}-character chunks. 'each' = a snapshot after every chunk;")
    print(f"'1/{CADENCE}' = a frame every {CADENCE} chunks, what a view coalescing to ~30 fps draws")
    print("at ~250 chunks/s. Bytes are multiples of the final HTML: 'whole' sends each committed")
    print("block once plus the whole tail per frame; 'patch' sends the tail as a change against")
    print("the previous frame (keep N characters, append the rest).\n")
    rows = [
        ("size (bytes)", "chunks", "stream CPU each", "per chunk", "stream CPU 1/8", "per chunk",
         "naive CPU (est)", "per chunk", "CPU ratio each", "bytes whole each", "bytes whole 1/8",
         "bytes patch each", "bytes patch 1/8", "bytes naive each", "prefix-stable each",
         "prefix-stable 1/8"),
    ]  # fmt: skip
    notes = []
    per_chunk = {}
    for size in SIZES:
        text = realistic_answer(size)
        chunks = _chunks(text)
        final = render(text)
        final_bytes = len(final.encode())
        cpu_each = stream_cpu(chunks, 1)
        cpu_cadence = stream_cpu(chunks, CADENCE)
        whole_each, patch_each, stable_each = stream_wire(chunks, final, 1)
        whole_cadence, patch_cadence, stable_cadence = stream_wire(chunks, final, CADENCE)
        naive_cpu, naive_bytes, measured = naive(text, chunks, NAIVE_SAMPLES[size])
        per_chunk[size] = cpu_each / len(chunks)
        rows.append(
            (
                f"{len(text.encode()):,}",
                f"{len(chunks):,}",
                f"{cpu_each:.2f} s",
                f"{per_chunk[size] * 1e6:.0f} µs",
                f"{cpu_cadence:.2f} s",
                f"{cpu_cadence / len(chunks) * 1e6:.0f} µs",
                f"{naive_cpu:.1f} s",
                f"{naive_cpu / len(chunks) * 1e6:.0f} µs",
                f"{naive_cpu / cpu_each:.0f}×",
                f"{whole_each / final_bytes:.1f}×",
                f"{whole_cadence / final_bytes:.2f}×",
                f"{patch_each / final_bytes:.2f}×",
                f"{patch_cadence / final_bytes:.2f}×",
                f"{naive_bytes / final_bytes:.0f}×",
                f"{stable_each:.3f}",
                f"{stable_cadence:.3f}",
            )
        )
        scaled = "all" if measured == len(chunks) else f"{measured} evenly spaced, scaled to all"
        notes.append(f"  {size // 1000} KB: final HTML {final_bytes:,} bytes; naive frames timed: {scaled}")
    width = max(len(row[0]) for row in zip(*rows, strict=True))
    for column in zip(*rows, strict=True):
        print(f"{column[0]:<{width}}  " + "  ".join(f"{cell:>10}" for cell in column[1:]))
    print()
    print("\n".join(notes))
    print(
        f"\nper-chunk CPU (snapshot after every chunk), 100 KB / 1 KB: "
        f"{per_chunk[100_000] / per_chunk[1_000]:.2f}"
    )


if __name__ == "__main__":
    main()
