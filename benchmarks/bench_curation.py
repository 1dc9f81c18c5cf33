"""What decontamination, near-duplicate detection and the test split cost in a build, side by side in one run.

    python benchmarks/bench_curation.py [--records 50000] [--json out.json]

The inputs are those of ``bench_build.py`` (real shared samples, replicated and made unique). Each variant builds the
same inputs in a fresh child process (peak RSS measured there): ``bare`` (near duplicates off, no decontamination, no
split), ``near-dup`` (MinHash/LSH, report mode), ``decontaminate`` (against the shared BFCL questions), and ``all``
(both, plus a 2% test split). The replicas differ only by a marker, so near-duplicate detection finds almost every row
a near duplicate of an earlier one: the worst case for its pair bookkeeping, not the typical one.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import ROOT, SHARED, write_inputs  # noqa: E402

VARIANTS = ("bare", "near-dup", "decontaminate", "all")


def _child(folder: Path, variant: str) -> None:
    sys.path.insert(0, str(ROOT))
    from toolcall_templates.build.builder import SourceSpec, build_dataset
    from toolcall_templates.build.settings import BuildSettings, Decontamination, NearDuplicates

    references = [SourceSpec("bfcl", str(SHARED / "sources" / "bfcl"))] if variant in ("decontaminate", "all") else []
    settings = BuildSettings(decontamination=Decontamination(references=references),
                             near_duplicates=NearDuplicates(mode="report" if variant in ("near-dup", "all") else "off"),
                             test_fraction=0.02 if variant == "all" else 0.0)
    specs = [SourceSpec(p.stem, str(p), p.stem.replace("_zh", "")) for p in sorted(folder.glob("*.jsonl"))]
    start = time.perf_counter()
    result = build_dataset(specs, folder / f"out-{variant}", progress=False, settings=settings)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    records = sum(s.records_in for s in result.stats)
    print(json.dumps({"records": records, "seconds": round(seconds, 2), "records_per_s": round(records / seconds),
                      "near_duplicates_found": sum(s.near_duplicates_found for s in result.stats),
                      "contaminated": sum(s.contaminated for s in result.stats),
                      "peak_rss_mb": round(peak_kb / 1024)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        counts = write_inputs(Path(tmp), args.records)
        print(f"inputs: {sum(counts.values()):,} records ({', '.join(f'{k}={v:,}' for k, v in counts.items())})")
        results = {}
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--child", tmp, variant], check=True, capture_output=True,
                                 text=True).stdout.strip().splitlines()[-1]
            results[variant] = r = json.loads(out)
            ratio = results["bare"]["seconds"] and r["seconds"] / results["bare"]["seconds"]
            print(f"{variant:<14} {r['seconds']:>8} s  {r['records_per_s']:>7,} rec/s  ({ratio:.2f}x bare)  "
                  f"near duplicates {r['near_duplicates_found']:,}  contaminated {r['contaminated']:,}  "
                  f"peak RSS {r['peak_rss_mb']} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
