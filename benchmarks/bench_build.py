"""Build throughput and peak memory on >= 200k records (real shared samples, replicated and made unique).

    python benchmarks/bench_build.py [--records 200000] [--num-proc 1 2] [--json out.json]

Each replica gets a distinct suffix in its first user-visible text so that deduplication keeps it and every record
is normalized, hashed and written like a real one. Peak RSS is measured in a fresh child process per run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOOLCALL_SHARED", ROOT.parent / "shared"))
SAMPLES = {
    "sharegpt": "sources/llamafactory_sharegpt_tools/glaive_toolcall_en_demo.json",
    "sharegpt_zh": "sources/llamafactory_sharegpt_tools/glaive_toolcall_zh_demo.json",
    "llamafactory_v1": "sources/llamafactory_v1_typed_content/reason_tool_use_demo_50.jsonl",
    "glaive": "sources/glaive_v2_raw/chat_data.jsonl",
}


def _load(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _make_unique(record: dict, index: int) -> dict:
    """Append a replica marker to the first string value found in the record's conversation."""
    clone = json.loads(json.dumps(record))
    for key in ("conversations", "messages"):
        turns = clone.get(key)
        if isinstance(turns, list) and turns:
            for turn in turns:
                for field in ("value", "content"):
                    if isinstance(turn.get(field), str):
                        turn[field] += f" [r{index}]"
                        return clone
                    if isinstance(turn.get(field), list) and turn[field] and isinstance(turn[field][0], dict):
                        turn[field][0]["value"] = str(turn[field][0].get("value", "")) + f" [r{index}]"
                        return clone
    if isinstance(clone.get("chat"), str):
        clone["chat"] = clone["chat"].replace("USER: ", f"USER: [r{index}] ", 1)
    return clone


def write_inputs(folder: Path, total: int) -> dict[str, int]:
    samples = {name: _load(SHARED / rel) for name, rel in SAMPLES.items() if (SHARED / rel).exists()}
    if not samples:
        sys.exit(f"no shared samples under {SHARED}: set TOOLCALL_SHARED")
    per_source = total // len(samples) + 1
    counts = {}
    for name, records in samples.items():
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as handle:
            for i in range(per_source):
                handle.write(json.dumps(_make_unique(records[i % len(records)], i), ensure_ascii=False) + "\n")
        counts[name] = per_source
    return counts


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from toolcall_templates.build.builder import SourceSpec, build_dataset

    folder = Path(args.child)
    specs = [SourceSpec(p.stem, str(p), p.stem.replace("_zh", "")) for p in sorted(folder.glob("*.jsonl"))]
    start = time.perf_counter()
    result = build_dataset(specs, folder / "out", num_proc=args.num_proc[0], progress=False)
    seconds = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    records = sum(s.records_in for s in result.stats)
    print(json.dumps({"records": records, "rows": sum(s.rows_out for s in result.stats),
                      "rejected": sum(s.rejected for s in result.stats), "seconds": round(seconds, 2),
                      "records_per_s": round(records / seconds), "peak_rss_mb": round(peak_kb / 1024)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--num-proc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        counts = write_inputs(Path(tmp), args.records)
        print(f"inputs: {sum(counts.values()):,} records ({', '.join(f'{k}={v:,}' for k, v in counts.items())})")
        results = {}
        for num_proc in args.num_proc:
            out = subprocess.run([sys.executable, __file__, "--child", tmp, "--num-proc", str(num_proc)],
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[num_proc] = json.loads(out)
            r = results[num_proc]
            print(f"num_proc={num_proc}: {r['records']:,} records in {r['seconds']} s = {r['records_per_s']:,} rec/s, "
                  f"rows {r['rows']:,}, rejected {r['rejected']:,}, peak RSS {r['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
