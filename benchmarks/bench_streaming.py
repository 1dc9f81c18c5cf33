"""Peak memory of ``toolcall tokenize --streaming`` next to the in-memory ``toolcall tokenize`` (not a test).

    python benchmarks/bench_streaming.py [--rows 1000000 100000] [--memory-rows 100000] [--work DIR] [--json out.json]

Data: the LLaMA-Factory Glaive demo files in ../shared (240 + 240 records), normalized with the package and made
distinct (each copy's user, assistant and tool texts get a replica tag, every id is unique), written once to
``--work`` as parquet files of canonical rows (``schema.features()``, ``--rows-per-file`` rows a file, 50,000) in
chunks, so generating them never holds them all in memory. Each size in ``--rows`` (and ``--memory-rows``), a
multiple of ``--rows-per-file``, reads the first files.

Each run is the installed console script in a child process (``toolcall tokenize --in DATA --tokenizer qwen2.5
--out OUT --no-progress``, with ``--streaming`` for the streamed runs, ``--save-format parquet`` for both), and its
peak resident memory is the child's ``ru_maxrss`` (``os.wait4``). The streamed runs show whether memory stays flat
as the row count grows; the in-memory run is the same command without ``--streaming`` on ``--memory-rows`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from bench_tokenize import load_rows  # noqa: E402 (this folder is on sys.path when the script runs)

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TOOLCALL_SHARED", ROOT.parent / "shared"))
CHUNK_ROWS = 5_000


def distinct_copy(row: dict, index: int, replica: int) -> dict:
    """A copy of ``row`` with id ``<id>-<index>`` and, from the second replica on, every non-system text tagged."""
    copy = json.loads(json.dumps(row))
    if replica:
        for message in copy["messages"]:
            if message["role"] != "system" and message.get("content"):
                message["content"] = f"{message['content']} [{replica}]"
    copy["id"] = f"{copy['id']}-{index}"
    return copy


def generate(folder: Path, rows: int, rows_per_file: int) -> list[Path]:
    """``folder/data/bench/*.parquet`` holding ``rows`` distinct canonical rows (reused when already there)."""
    import pyarrow.parquet as pq
    from datasets import Dataset

    from toolcall_templates.schema import features

    data = folder / "data" / "bench"
    files = [data / f"train-{i:05d}.parquet" for i in range(-(-rows // rows_per_file))]
    done = folder / f"generated-{rows}-{rows_per_file}.json"
    if done.exists():
        return files
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    base = load_rows()  # the Glaive demo rows of bench_tokenize
    schema = features().arrow_schema
    start = time.perf_counter()
    for number, path in enumerate(files):
        first, last = number * rows_per_file, min(rows, (number + 1) * rows_per_file)
        with pq.ParquetWriter(str(path), schema) as writer:
            for chunk in range(first, last, CHUNK_ROWS):
                copies = [distinct_copy(base[i % len(base)], i, i // len(base))
                          for i in range(chunk, min(last, chunk + CHUNK_ROWS))]
                writer.write_table(Dataset.from_list(copies, features=features()).data.table.cast(schema))
        print(f"  generated {last:,} rows ({time.perf_counter() - start:.0f} s)", flush=True)
    done.write_text(json.dumps({"rows": rows, "files": [p.name for p in files]}))
    return files


def subset(folder: Path, files: list[Path], rows: int, rows_per_file: int) -> Path:
    """A dataset folder whose ``data/bench`` links to the files holding the first ``rows`` rows."""
    view = folder / f"rows-{rows}"
    shutil.rmtree(view, ignore_errors=True)
    (view / "data" / "bench").mkdir(parents=True)
    for path in files[: rows // rows_per_file]:
        (view / "data" / "bench" / path.name).symlink_to(path)
    return view


def measure(data: Path, out: Path, streaming: bool) -> dict:
    """Run ``toolcall tokenize`` on ``data`` in a child process: its peak RSS, wall time and report."""
    script = shutil.which("toolcall") or "toolcall"
    tokenizer = SHARED / "fixtures" / "tokenizers" / "qwen2.5"
    command = [script, "tokenize", "--in", str(data), "--tokenizer", str(tokenizer), "--out", str(out),
               "--save-format", "parquet", "--no-progress", *(["--streaming"] if streaming else [])]
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    environment = {**os.environ, "HF_DATASETS_CACHE": str(out.parent / "datasets-cache")}  # removed at the end
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stdout, stderr = child.stdout.read(), child.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    report = json.loads((out / "tokenize_report.json").read_text(encoding="utf-8"))
    return {"path": "streamed" if streaming else "in memory", "rows_in": report["rows_in"],
            "rows_out": report["rows_out"], "tokens": report["tokens"], "peak_rss_mb": usage.ru_maxrss / 1024,
            "seconds": round(seconds, 1), "rows_per_s": round(report["rows_in"] / seconds), "stdout": stdout.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="streamed runs, one per row count")
    parser.add_argument("--memory-rows", type=int, default=100_000, help="rows of the in-memory run (0: none)")
    parser.add_argument("--rows-per-file", type=int, default=50_000, help="rows of each generated parquet file")
    parser.add_argument("--work", type=Path, default=Path("/tmp/toolcall-bench-streaming"),
                        help="where the generated data and outputs go (reused between runs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    sizes = [*args.rows, *([args.memory_rows] if args.memory_rows else [])]
    if any(rows % args.rows_per_file for rows in sizes):
        parser.error(f"--rows and --memory-rows must be multiples of --rows-per-file ({args.rows_per_file})")
    total = max(sizes)
    print(f"generating {total:,} distinct conversations in {args.work} ...", flush=True)
    files = generate(args.work, total, args.rows_per_file)
    runs = [(rows, True) for rows in args.rows] + ([(args.memory_rows, False)] if args.memory_rows else [])
    results = []
    for rows, streaming in runs:
        result = measure(subset(args.work, files, rows, args.rows_per_file), args.work / "out", streaming)
        results.append(result)
        print(f"  {result['path']:>9} {rows:>9,} rows: peak RSS {result['peak_rss_mb']:,.0f} MB, "
              f"{result['seconds']:,.0f} s ({result['rows_per_s']:,} rows/s); {result['stdout'].splitlines()[0]}",
              flush=True)
    for scratch in ("out", "datasets-cache"):
        shutil.rmtree(args.work / scratch, ignore_errors=True)

    print("\n| path | conversations | rows kept | peak RSS | time | conversations/s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['path']} | {r['rows_in']:,} | {r['rows_out']:,} | {r['peak_rss_mb']:,.0f} MB | "
              f"{r['seconds']:,.0f} s | {r['rows_per_s']:,} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
