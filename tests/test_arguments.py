"""Arguments in every encoding seen in public data become a JSON object; repairs are reported."""

import pytest

from toolcall_templates.arguments import (REPAIR_DOUBLE_DECODED, REPAIR_EMPTY, REPAIR_LITERAL_EVAL,
                                          parse_arguments)
from toolcall_templates.errors import InvalidRecord


@pytest.mark.parametrize(
    "value, expected, repair",
    [
        ({"city": "Paris"}, {"city": "Paris"}, None),
        ('{"city": "Paris"}', {"city": "Paris"}, None),
        ('{\n  "city": "Paris"\n}', {"city": "Paris"}, None),
        ('"{\\"location\\": \\"current\\"}"', {"location": "current"}, REPAIR_DOUBLE_DECODED),
        ("\"\\\"{\\\\\\\"a\\\\\\\": 1}\\\"\"", {"a": 1}, REPAIR_DOUBLE_DECODED),
        ("{'city': 'Paris', 'metric': True, 'x': None}", {"city": "Paris", "metric": True, "x": None},
         REPAIR_LITERAL_EVAL),
        ("{'q': \"NASA's budget\", 'flag': true, 'n': null}", {"q": "NASA's budget", "flag": True, "n": None},
         REPAIR_LITERAL_EVAL),
        ('{"城市": "北京"}', {"城市": "北京"}, None),
        ("", {}, REPAIR_EMPTY),
        (None, {}, REPAIR_EMPTY),
    ],
)
def test_encodings_become_objects(value, expected, repair):
    assert parse_arguments(value) == (expected, repair)


@pytest.mark.parametrize("value", ["[1, 2]", "42", "__import__('os').system('true')", "f(a=1)", 3.5, "not json"])
def test_non_objects_are_rejected_with_reason(value):
    with pytest.raises(InvalidRecord, match="arguments"):
        parse_arguments(value)


def test_keywords_inside_strings_are_not_rewritten():
    args, repair = parse_arguments("{'text': 'true or null', 'ok': false}")
    assert args == {"text": "true or null", "ok": False} and repair == REPAIR_LITERAL_EVAL
