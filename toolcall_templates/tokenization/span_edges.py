"""Whether a token of a rendered conversation crosses the edge of one of its generation spans.

The fast path labels the tokens of the whole text that overlap each ``{% generation %}`` span. That is exact only when
the whole-text tokenization has a token boundary at each span's start and end: at inference the prompt ends at the
span's start and is tokenized on its own, and the generated tokens follow it. Where a token crosses an edge (a
``<think>\\n`` prompt followed by a generated ``\\n</think>`` gives one ``\\n\\n`` token in the whole text, two at
inference; an agent's ``Observation:`` merges with the result that follows it), the conversation is assembled turn by
turn instead (:mod:`turn_encoder`).

The segment encoder answers, for a span ``(a, b)``, the first token ending after ``a`` and the number of tokens
starting before ``b``. Probe spans ``(0, a)`` and ``(b, len)`` ask the same about the other side of each edge: a token
crosses ``a`` when more tokens start before ``a`` than end at or before it.
"""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int]


def with_edge_probes(spans: Sequence[Span], length: int) -> list[Span]:
    """``spans`` followed by two probe spans per span: ``(0, start)`` and ``(end, length)`` (empty when the edge is
    the text's own start or end, where nothing can cross)."""
    probes: list[Span] = []
    for start, end in spans:
        nonempty = end > start
        probes.append((0, start) if nonempty and start > 0 else (0, 0))
        probes.append((end, length) if nonempty and end < length else (0, 0))
    return [*spans, *probes]


def crosses_edges(ranges: Sequence[Span], count: int) -> bool:
    """Whether a token crosses an edge of one of the first ``count`` spans, given the token ranges the segment encoder
    returned for ``with_edge_probes(spans, length)``."""
    for k in range(count):
        first, stop = ranges[k]
        if stop <= first:
            continue
        before_start, after_end = ranges[count + 2 * k], ranges[count + 2 * k + 1]
        if before_start != (0, 0) and before_start[1] > first:
            return True
        if after_end != (0, 0) and stop > after_end[0]:
            return True
    return False
