"""Pausing Python's cyclic garbage collector while a batch is tokenized.

Decoding, rendering and tokenizing a batch allocates a great many small containers, most of them alive until the
batch is done. Each allocation burst triggers collector passes that walk every tracked object of the process
(transformers, datasets and Jinja hold hundreds of thousands), and on the tokenization path those passes cost about
30% of the time while finding little to free. The collector is paused for a bounded group of rows and resumed after
it: a Jinja render leaves about 60 objects of cyclic garbage, reclaimed by the next pass, so memory grows by at most
one group's worth (``conversation_encoder.GC_PAUSE_ROWS``).
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
