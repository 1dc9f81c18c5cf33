"""The piece cache is exact: encoding the pieces between added tokens once and reusing them gives the tokenizer's own
ids, on the five real tokenizers and every shared conversation; tokenizers where it would not are detected."""

from __future__ import annotations

import random

import pytest

from conftest import load_tokenizer, requires_shared
from test_tokenize_oracle import FAMILIES, RENDER_KWARGS, dataset  # noqa: F401 - session fixture
from toolcall_templates.tokenization.segment_encoder import SegmentEncoder


@requires_shared
@pytest.mark.parametrize("family", FAMILIES)
def test_piece_reuse_gives_the_tokenizers_own_ids_and_spans(family, dataset):  # noqa: F811
    from toolcall_templates.templates import render

    tokenizer = load_tokenizer(family)
    encoder = SegmentEncoder(tokenizer)
    assert encoder.split_exact
    texts = []
    for row in dataset.select(range(0, len(dataset), 24)):
        try:
            texts.append(render(family, row["messages"], row["tools"] or None, **RENDER_KWARGS.get(family, {}))[0])
        except Exception:  # noqa: BLE001 - conversations the template refuses are not the point here
            continue
    reference = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    rng = random.Random(0)
    spans = [sorted((a, min(a + rng.randint(1, 80), len(text))) for a in rng.sample(range(len(text)), 8))
             for text in texts]
    for start in range(0, len(texts), 100):  # several batches: later ones reuse pieces of earlier ones
        batch = encoder.encode(texts[start:start + 100], spans[start:start + 100])
        for k, (ids, ranges) in enumerate(batch):
            assert ids.tolist() == reference["input_ids"][start + k]
            offsets = reference["offset_mapping"][start + k]
            assert ranges == [_overlapping(offsets, a, b) for a, b in spans[start + k]]
    assert encoder.stats["pieces_encoded"] < encoder.stats["pieces"]  # recurring pieces were reused


def _overlapping(offsets, start: int, end: int) -> tuple[int, int]:
    """Reference: positions of the tokens whose characters overlap [start, end)."""
    hits = [i for i, (s, e) in enumerate(offsets) if e > start and s < end]
    return hits[0], hits[-1] + 1


def test_spans_map_to_every_overlapping_token():
    tokenizer = load_tokenizer("qwen2.5")
    text = "<|im_start|>assistant\nHello world<|im_end|>\n"
    start, stop = text.index("Hello"), text.index("<|im_end|>") + 10
    encoder = SegmentEncoder(tokenizer)
    ids, ranges = encoder.encode([text], [[(start, stop), (start + 3, start + 4), (start, start)]])[0]
    tokens = tokenizer.convert_ids_to_tokens(ids.tolist())
    (a, b), inside, empty = ranges
    assert tokens[a:b] == ["Hello", "Ġworld", "<|im_end|>"]
    assert inside == (a, a + 1) and empty == (0, 0)  # inside a token: that whole token


def test_a_cached_piece_learns_new_positions():
    tokenizer = load_tokenizer("qwen2.5")
    encoder = SegmentEncoder(tokenizer)
    text = "<|im_start|>user\nsome words here<|im_end|>"
    encoder.encode([text])  # cached with no positions
    cut = text.index("words")
    ids, [(a, b)] = encoder.encode([text], [[(cut, cut + 5)]])[0]
    assert tokenizer.decode(ids[a:b].tolist()) == " words"


def test_small_cache_evicts_and_stays_exact():
    tokenizer = load_tokenizer("qwen2.5")
    encoder = SegmentEncoder(tokenizer, cache_tokens=50)
    texts = [f"<|im_start|>user\nmessage number {k} " * 3 + "<|im_end|>" for k in range(40)]
    for start in range(0, 40, 8):
        assert [ids.tolist() for ids, _ in encoder.encode(texts[start:start + 8])] == \
            tokenizer(texts[start:start + 8], add_special_tokens=False)["input_ids"]
    assert encoder._cached_tokens <= 50 + 8 * 40


def _tiny_tokenizer(prepend_scheme: str = "first", rstrip: bool = False):
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["▁hello", "▁world", "hello", "world", "▁Hello", "Hello", "▁world.", "world.", "▁", "[UNK]"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=prepend_scheme)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken("<sep>", rstrip=rstrip)]})
    return tokenizer


def test_a_tokenizer_that_prefixes_only_its_first_piece_is_encoded_whole():
    tokenizer = _tiny_tokenizer("first")
    texts = ["hello<sep>world hello", "world<sep>hello<sep>"]
    encoder = SegmentEncoder(tokenizer)
    assert not encoder.split_exact
    assert [ids.tolist() for ids, _ in encoder.encode(texts)] == \
        tokenizer(texts, add_special_tokens=False)["input_ids"]


def test_stripping_added_tokens_are_not_split_points():
    tokenizer = _tiny_tokenizer("always", rstrip=True)
    encoder = SegmentEncoder(tokenizer)
    texts = ["hello<sep> world", "hello <sep>  world"]
    assert "<sep>" not in encoder._boundary_ids
    assert [ids.tolist() for ids, _ in encoder.encode(texts)] == \
        tokenizer(texts, add_special_tokens=False)["input_ids"]


def test_slow_tokenizers_are_refused():
    class Slow:
        added_tokens_decoder: dict = {}

    with pytest.raises(ValueError, match="fast tokenizer"):
        SegmentEncoder(Slow())
