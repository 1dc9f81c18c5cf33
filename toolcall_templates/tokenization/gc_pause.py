"""Pausing Python's cyclic garbage collector while a batch is tokenized.

Decoding, rendering and tokenizing a batch allocates a great many small containers, most of them alive until the
batch is done. Each allocation burst triggers collector passes that walk every tracked object of the process
(transformers, datasets and Jinja hold hundreds of thousands), and on the tokenization path those passes cost about
30% of the time while finding little to free. The collector is paused for a batch and resumed after it. A Jinja
render leaves about 60 objects of cyclic garbage, so a long batch reclaims it group by group
(``collect_young_garbage`` every ``conversation_encoder.GC_PAUSE_ROWS`` rows): a collection of the young
generation only, which never walks the long-lived objects.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; re-enable it after, if it was enabled (nests safely)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_young_garbage() -> None:
    """Free the unreachable objects allocated since the last collection (generation 0 only)."""
    gc.collect(0)
