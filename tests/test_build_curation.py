"""Issue 12, points 3-5: decontamination, near duplicates, caps, weights, the held-out split, evaluation configs and the
card's plots, through ``toolcall build`` (flags and recipe), ``build_dataset`` and ``load_dataset`` on the folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from datasets import load_dataset

from conftest import REPO_ROOT, read_records, run_toolcall, shared_path, toolcall_script
from toolcall_templates import normalize
from toolcall_templates.build.builder import SourceSpec, build_dataset
from toolcall_templates.build.settings import BuildSettings, Decontamination, NearDuplicates
from toolcall_templates.build.split import copies, split_of
from toolcall_templates.build.text_keys import shingles, tokens

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def _record(user: str, city: str | None = None, answer: str = "Done.") -> dict:
    """An OpenAI-shaped record as clients send it: content null on the call turn, arguments as JSON text."""
    messages = [{"role": "user", "content": user}]
    if city is not None:
        call = {"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
        messages += [{"role": "assistant", "content": None, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    return {"messages": [*messages, {"role": "assistant", "content": answer}], "tools": [WEATHER]}


def _write(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _report(out: Path) -> dict:
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert report["invariant_holds"], report["sources"]
    for s in report["sources"]:
        removed = sum(s[key] for key in ("rejected", "duplicates_removed", "contaminated", "near_duplicates_removed",
                                         "capped"))
        assert s["records_in"] == s["rows_out"] + removed and s["rows_out"] == s["rows_train"] + s["rows_test"], s
    return report


def _bfcl_questions() -> list[tuple[str, str]]:
    """``(id, question)`` of BFCL's simple_python questions (real records from ../shared)."""
    records = read_records(shared_path("sources", "bfcl", "question", "BFCL_v4_simple_python.json"))
    return [(r["id"], r["question"][0][0]["content"]) for r in records]


# -- decontamination ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def decontaminated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decon")
    questions = _bfcl_questions()
    short_id, short = next(q for q in questions if 4 <= len(tokens(q[1])) < 13)
    long_id, long = next(q for q in questions if len(tokens(q[1])) >= 17)
    (folder / "eval.txt").write_text("What is the best pizza place near the central station tonight?\nyes\n")
    train = _write(folder / "train.jsonl", [
        _record(short.upper().replace(".", " !! ")),                         # exact after normalization
        _record(f"Hi, for my homework: {long} I need it in an hour."),        # 13-gram overlap inside a longer turn
        _record("what is the BEST pizza place near the central station, tonight"),  # exact match of the .txt item
        _record("yes"),                                                      # too short to count as contamination
        _record("How warm is it in Paris right now?", "Paris"),              # clean
    ])
    out = folder / "out"
    done = run_toolcall("build", "--source", f"train={train}", "--decontaminate",
                        shared_path("sources", "bfcl", "question", "BFCL_v4_simple_python.json"),
                        "--decontaminate", folder / "eval.txt", "--out", out, "--no-progress")
    assert done.returncode == 0, done.stderr
    return out, done.stdout, {"short": short_id, "long": long_id, "count": len(questions), "short_text": short}


def test_decontamination_removes_exact_and_ngram_matches_with_counts(decontaminated):
    out, printed, ids = decontaminated
    (source,) = _report(out)["sources"]
    assert (source["records_in"], source["contaminated"], source["rows_out"]) == (5, 3, 2)
    removed = _lines(out / "contaminated" / "train.jsonl")
    matches = [(r["ref"], r["match"]["kind"], r["match"]["eval_ref"]) for r in removed]
    bfcl = "BFCL_v4_simple_python.json#{} ({})".format
    assert matches == [("train.jsonl:1", "exact", bfcl(_index_of(ids["short"]), ids["short"])),
                       ("train.jsonl:2", "ngram", bfcl(_index_of(ids["long"]), ids["long"])),
                       ("train.jsonl:3", "exact", "eval.txt:1")]
    assert removed[1]["match"]["shared_ngrams"] >= 5 and removed[1]["match"]["overlap"] == 1.0
    assert removed[0]["row"]["messages"][0]["content"] == ids["short_text"].upper().replace(".", " !! ")
    kept = load_dataset(str(out), split="train")
    assert sorted(r["messages"][0]["content"] for r in kept) == ["How warm is it in Paris right now?", "yes"]
    references = _report(out)["decontamination"]["references"]
    assert [(r["reference"], r["items"]) for r in references] == [("BFCL_v4_simple_python.json", ids["count"]),
                                                                  ("eval.txt", 2)]
    header, row = printed.splitlines()[0].split(), printed.splitlines()[1].split()
    assert row[0] == "train" and row[header.index("contaminated")] == "3"
    card = (out / "README.md").read_text()
    assert "`BFCL_v4_simple_python.json` (%d items), `eval.txt` (2 items)" % ids["count"] in card
    assert "3 rows were removed" in card
    listed = run_toolcall("push", out, "--repo-id", "me/clean", "--dry-run")
    assert "contaminated/" not in listed.stdout.split("not uploaded")[0]
    listed = run_toolcall("push", out, "--repo-id", "me/clean", "--dry-run", "--include-rejects")
    assert "  contaminated/train.jsonl  (" in listed.stdout


def test_bfcl_built_for_training_is_flagged(tmp_path):
    question_file = shared_path("sources", "bfcl", "question", "BFCL_v4_simple_python.json")
    done = run_toolcall("build", "--source", f"bench={question_file}", "--out", tmp_path / "o", "--no-progress")
    assert done.returncode == 0 and "warning: bench: BFCL evaluation data built for training" in done.stderr
    card = (tmp_path / "o" / "README.md").read_text()
    assert "`bench` holds BFCL\ndata, an evaluation benchmark, as training data" in card


def _index_of(bfcl_id: str) -> int:
    return next(index for index, (question_id, _) in enumerate(_bfcl_questions()) if question_id == bfcl_id)


def test_ngram_size_and_minimum_overlap_are_options(tmp_path):
    (_, question), eval_file = next(q for q in _bfcl_questions() if len(tokens(q[1])) >= 20), tmp_path / "e.txt"
    eval_file.write_text(question + "\n")
    words = tokens(question)
    part = " ".join(words[:len(words) - 4])  # all but its last 4 tokens: some of its 13-grams, not most
    train = _write(tmp_path / "t.jsonl", [_record(f"Please: {question} Thanks."), _record(f"So, {part} and more."),
                                          _record("Is it warm in Rome?", "Rome")])

    def contaminated(**options) -> int:
        settings = BuildSettings(decontamination=Decontamination([SourceSpec("e", str(eval_file))], **options))
        result = build_dataset([SourceSpec("t", str(train))], tmp_path / "o", progress=False, settings=settings)
        return result.stats[0].contaminated

    assert contaminated() == 2                      # GPT-3 style: any shared 13-gram
    assert contaminated(min_overlap=0.9) == 1       # most of the evaluation question must reappear
    assert contaminated(ngram=0) == 0               # exact match only: neither turn equals the question
    assert contaminated(ngram=len(tokens(question))) == 1


def test_eval_configs_and_references_from_the_hub_through_a_recipe(tmp_path):
    """The published recipe's shape: BFCL from the Hub as an eval config plus its questions as a reference (files read
    from a Hugging Face cache, offline), caps, weights and a test split; the BFCL config is marked in the card."""
    shared = shared_path("sources", "bfcl")
    commit = "0" * 40
    snapshot = tmp_path / "hub" / "datasets--gorilla--bfcl" / "snapshots" / commit
    for category in ("simple_python", "multiple"):
        for folder in ("", "possible_answer/"):
            target = snapshot / f"{folder}BFCL_v3_{category}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((shared / (folder or "question/") / f"BFCL_v4_{category}.json").read_bytes())
    (snapshot / "README.md").write_text("not data\n")
    (tmp_path / "hub" / "datasets--gorilla--bfcl" / "refs").mkdir()
    (tmp_path / "hub" / "datasets--gorilla--bfcl" / "refs" / "main").write_text(commit)
    simple = _bfcl_questions()[1][1]
    multiple = read_records(shared / "question" / "BFCL_v4_multiple.json")
    train = _write(tmp_path / "train.jsonl", [_record(simple), _record(multiple[0]["question"][0][0]["content"]),
                                              *[_record(f"Weather #{i} in Oslo?", "Oslo") for i in range(30)]])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "title": "curated", "test_fraction": 0.2,
        "decontamination": {"references": [{"path": "gorilla/bfcl", "data_files": "BFCL_v3_multiple.json"}]},
        "near_duplicates": {"mode": "off"},
        "sources": [{"config": "mine", "path": "train.jsonl", "format": "openai", "max_rows": 20, "weight": 2},
                    {"config": "bfcl", "path": "gorilla/bfcl", "format": "bfcl", "eval": True,
                     "data_files": ["BFCL_v3_simple_*.json", "possible_answer/*"], "license": "apache-2.0"}]}))
    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    done = subprocess.run([toolcall_script(), "build", "--recipe", recipe, "--out", out, "--no-progress"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    report = _report(out)
    mine, bfcl = report["sources"]
    assert (bfcl["eval"], bfcl["records_in"], bfcl["rows_out"], bfcl["rows_test"]) == (True, 240, 240, 240)
    assert (mine["contaminated"], mine["capped"], mine["rows_out"]) == (2, 10, 20)
    matched = [r["match"]["eval_ref"] for r in _lines(out / "contaminated" / "mine.jsonl")]
    assert matched[0].startswith("bfcl:bfcl#") and matched[1] == f"BFCL_v3_multiple.json:1 ({multiple[0]['id']})"
    assert report["decontamination"]["references"] == [{"reference": "gorilla/bfcl", "items": len(multiple),
                                                        "user_turns": len(multiple), "items_without_user_text": 0}]
    header = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert header["evaluation_configs"] == ["bfcl"]
    assert "**Evaluation configs:** `bfcl` holds\nevaluation data" in (out / "README.md").read_text()
    assert len(load_dataset(str(out), "bfcl", split="test")) == 240
    assert list(load_dataset(str(out), "bfcl")) == ["test"]
    train, test = load_dataset(str(out), split="train"), load_dataset(str(out), split="test")
    assert set(train["source"]) == set(test["source"]) == {"mine"}
    assert len(train) == 2 * mine["rows_train"] and len(test) == mine["rows_test"] > 0
    assert report["mix"]["default_train_rows"] == {"mine": 2 * mine["rows_train"]}


# -- near duplicates ---------------------------------------------------------------------------------------------------
LONG = ("I am planning a weekend trip with my two kids and my parents and I would like to know what the weather will "
        "be like so that we can pack the right clothes for the hiking part of the trip in {city}")


def _near_sources(tmp_path: Path) -> list[SourceSpec]:
    first = _write(tmp_path / "a.jsonl", [_record(LONG.format(city="Lyon"), "Lyon"), _record("Hello there!")])
    second = _write(tmp_path / "b.jsonl", [
        _record(LONG.format(city="Lyon").replace("two kids", "three kids"), "Lyon"),   # near duplicate of a:1
        _record(LONG.format(city="Lyon"), "Lyon"),                                      # exact duplicate of a:1
        _record("Something else entirely: the tallest mountain of Europe?", "Chamonix")])
    return [SourceSpec("a", str(first)), SourceSpec("b", str(second))]


def test_near_duplicates_are_reported_per_source_pair(tmp_path):
    from datasketch import MinHash

    result = build_dataset(_near_sources(tmp_path), tmp_path / "o", progress=False)
    report = _report(tmp_path / "o")
    a, b = report["sources"]
    counts = (b["duplicates_removed"], b["near_duplicates_found"], b["near_duplicates_removed"], b["rows_out"])
    assert counts == (1, 1, 0, 2)
    (pair,) = report["near_duplicates"]["pairs"]
    rows = {r["messages"][0]["content"]: r for r in load_dataset(str(tmp_path / "o"), split="train")}
    kept, near = rows[LONG.format(city="Lyon")], rows[LONG.format(city="Lyon").replace("two", "three")]
    assert (pair["first"], pair["second"], pair["rows"]) == ("a", "b", 1)
    assert (pair["examples"][0]["kept"], pair["examples"][0]["near_duplicate"]) == (kept["id"], near["id"])
    first, second = set(shingles(kept)), set(shingles(near))  # the same pair by datasketch's own estimate
    assert len(first & second) / len(first | second) > 0.8
    sketches = MinHash.bulk([sorted(first), sorted(second)], num_perm=128)
    assert sketches[0].jaccard(sketches[1]) >= 0.8
    assert result.stats[1].near_duplicates_found == 1
    assert "| `a` | `b` | 1 |" in (tmp_path / "o" / "README.md").read_text()


def test_near_duplicates_removed_on_request_are_kept_aside(tmp_path):
    specs = _near_sources(tmp_path)
    out = tmp_path / "o"
    done = run_toolcall("build", "--source", f"a={specs[0].path}", "--source", f"b={specs[1].path}",
                        "--near-duplicates", "remove", "--out", out, "--no-progress")
    assert done.returncode == 0, done.stderr
    a, b = _report(out)["sources"]
    assert (b["records_in"], b["duplicates_removed"], b["near_duplicates_removed"], b["rows_out"]) == (3, 1, 1, 1)
    (removed,) = _lines(out / "near_duplicates" / "b.jsonl")
    assert removed["near_duplicate_of"]["config"] == "a" and removed["near_duplicate_of"]["similarity"] >= 0.8
    assert "three kids" in removed["row"]["messages"][0]["content"]
    assert "near duplicates removed: 1" in done.stdout
    assert len(load_dataset(str(out), split="train")) == 3


# -- caps, weights, split ----------------------------------------------------------------------------------------------
def _numbered(path: Path, name: str, count: int) -> Path:
    return _write(path / f"{name}.jsonl", [_record(f"{name} question number {i}: is it warm in Rome?", "Rome")
                                           for i in range(count)])


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mix")
    specs = [SourceSpec("capped", str(_numbered(folder, "capped", 40)), max_rows=25),
             SourceSpec("double", str(_numbered(folder, "double", 40)), weight=2),
             SourceSpec("half", str(_numbered(folder, "half", 40)), weight=0.5),
             SourceSpec("none", str(_numbered(folder, "none", 10)), weight=0)]
    settings = BuildSettings(test_fraction=0.25, near_duplicates=NearDuplicates(mode="off"))
    build_dataset(specs, folder / "out", progress=False, settings=settings)
    return folder, specs, settings


def test_caps_keep_the_first_rows_in_input_order(mixed):
    folder, specs, _ = mixed
    capped = _report(folder / "out")["sources"][0]
    assert (capped["records_in"], capped["capped"], capped["rows_out"], capped["max_rows"]) == (40, 15, 25, 25)
    expected = [normalize(r, "openai")["id"] for r in read_records(Path(specs[0].path))[:25]]
    built = load_dataset(str(folder / "out"), "capped")
    assert sorted([*built["train"]["id"], *built["test"]["id"]]) == sorted(expected)


def test_weights_mix_the_default_train_split(mixed):
    folder, specs, _ = mixed
    report = _report(folder / "out")
    default = load_dataset(str(folder / "out"), split="train")
    for spec in specs:
        own = load_dataset(str(folder / "out"), spec.config, split="train")["id"]
        expected = sum(copies(row_id, spec.weight) for row_id in own)
        mixed_rows = report["mix"]["default_train_rows"][spec.config]
        assert list(default["source"]).count(spec.config) == expected == mixed_rows
    counts = report["mix"]["default_train_rows"]
    sources = {s["config"]: s for s in report["sources"]}
    assert counts["double"] == 2 * sources["double"]["rows_train"] and counts["none"] == 0
    assert 0 < counts["half"] < sources["half"]["rows_train"]
    assert "| `half` | 0.5 |" in (folder / "out" / "README.md").read_text()


def test_split_files_are_those_load_dataset_reads(mixed):
    import pyarrow.parquet as pq

    from toolcall_templates.build.layout import split_files

    out = mixed[0] / "out"
    for config, split in ((None, "train"), (None, "test"), ("double", "test"), ("half", "train")):
        files = split_files(out, config, split)
        assert sum(pq.read_metadata(f).num_rows for f in files) == len(load_dataset(str(out), config, split=split))
    assert all(f.parent.name == "default" for f in split_files(out))  # the weighted mix, not the per-source copies
    with pytest.raises(ValueError, match="no split 'validation'"):
        split_files(out, "double", "validation")


def test_split_is_by_row_id_loadable_and_independent_of_other_rows(mixed, tmp_path):
    folder, specs, settings = mixed
    test_ids = {}
    for spec in specs:
        splits = load_dataset(str(folder / "out"), spec.config)
        assert all(split_of(row_id, 0.25) == name for name in splits for row_id in splits[name]["id"])
        test_ids[spec.config] = set(splits["test"]["id"]) if "test" in splits else set()
    assert 0 < sum(map(len, test_ids.values())) == len(load_dataset(str(folder / "out"), split="test"))
    alone = build_dataset([specs[1]], tmp_path / "alone", progress=False, settings=settings)
    assert set(load_dataset(str(alone.out_dir), "double", split="test")["id"]) == test_ids["double"]


# -- plots, the printed table, reproducible bytes ----------------------------------------------------------------------
def test_plots_are_in_the_card_and_rebuilds_are_byte_identical(tmp_path):
    hermes = REPO_ROOT / "dataset_scripts" / "examples" / "hermes.jsonl"
    tokenizer = shared_path("fixtures", "tokenizers", "qwen2.5")
    out = tmp_path / "plotted"
    args = ("build", "--source", f"hermes={hermes}", "--source", f"lf={_numbered(tmp_path, 'lf', 12)}",
            "--plot-tokenizer", tokenizer, "--out", out, "--no-progress")
    first = run_toolcall(*args)
    assert first.returncode == 0, first.stderr
    digests = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(out.rglob("*")) if p.is_file()}
    images = sorted(name for name in digests if name.startswith("images/"))
    assert images == [f"images/{name}.png" for name in sorted(
        ("turns_per_conversation", "calls_per_assistant_turn", "parallel_call_share", "tokens_per_row",
         "languages_per_source", "formats_per_source"))]
    card = (out / "README.md").read_text()
    assert all(f"]({name})" in card for name in images)
    assert card.index("| **total** |") < card.index("](images/") < card.index("## Splits and mix")
    assert all((out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for name in images)
    report = _report(out)
    hermes_stats = report["sources"][0]
    assert hermes_stats["tokens_per_row"]["sampled_rows"] == hermes_stats["rows_out"]
    assert report["plots"]["tokenizer"] == "qwen2.5" and str(tokenizer) not in card
    header, row = first.stdout.splitlines()[0].split(), first.stdout.splitlines()[1].split()
    assert row[0] == "hermes" and int(row[header.index("instr.removed")]) == \
        hermes_stats["format_instructions"]["removed"] > 0
    again = run_toolcall(*args)  # another process (another hash seed), the same bytes
    assert again.returncode == 0, again.stderr
    assert {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()} == digests
    listed = run_toolcall("push", out, "--repo-id", "me/plots", "--dry-run")
    assert all(f"  {name}  (" in listed.stdout for name in images)


@pytest.mark.parametrize("change, message", [
    ({"test_fraction": 1.5}, "test_fraction must be a number in [0, 1)"),
    ({"near_duplicates": {"mode": "drop"}}, "near_duplicates.mode must be one of report, remove, off"),
    ({"sources": [{"config": "x", "path": "x.jsonl", "weight": -1}]}, "source 'x': weight must be a number >= 0"),
    ({"decontaminate": ["x"]}, "unknown keys ['decontaminate']"),
])
def test_recipe_settings_out_of_range_are_refused(tmp_path, change, message):
    _numbered(tmp_path, "x", 1)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"sources": [{"config": "x", "path": "x.jsonl"}], **change}))
    done = run_toolcall("build", "--recipe", recipe, "--out", tmp_path / "o", "--no-progress")
    assert done.returncode == 2 and message in done.stderr and not (tmp_path / "o").exists()


def test_recipe_mapping_extended_by_option_flags(tmp_path):
    """Issue 12, point 2: a column mapping given partly in a recipe and completed with --option."""
    dialog = {"dialog": [{"who": "human", "text": "Weather in Oslo?"}, {"who": "bot", "text": "Cold."}]}
    _write(tmp_path / "d.jsonl", [dialog])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"sources": [{"config": "d", "path": "d.jsonl", "format": "mapped",
                                                   "options": {"messages": "dialog", "role": "who"}}]}))
    done = run_toolcall("build", "--recipe", recipe, "--option", "d.content=text",
                        "--option", 'd.roles={"human": "user", "bot": "assistant"}', "--out", tmp_path / "o",
                        "--no-progress")
    assert done.returncode == 0, done.stderr
    assert load_dataset(str(tmp_path / "o"), "d", split="train")[0]["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"}, {"role": "assistant", "content": "Cold."}]
