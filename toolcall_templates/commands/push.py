"""``toolcall push``: publish a built folder to the Hub (``--dry-run`` lists what would be uploaded)."""

from __future__ import annotations

import argparse
import re
import sys

from ..build.push import card_text, files_to_upload, push_dataset


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push", help="publish a built dataset folder to the Hugging Face Hub",
        description="Upload DIR to a dataset repository with huggingface_hub: the card (README.md, its examples "
                    "naming --repo-id), build_report.json, the parquet shards and the card's plots (images/). "
                    "rejects/ (the original records that could not be normalized), contaminated/ and "
                    "near_duplicates/ (removed rows) are uploaded only with --include-rejects. The token "
                    "comes from HF_TOKEN or `hf auth login` and is never printed. Exit codes: 0 pushed (or listed "
                    "with --dry-run), 1 the upload failed, 2 DIR is not a built dataset folder.")
    parser.add_argument("folder", metavar="DIR")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="target dataset repository")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--revision", help="branch to push to")
    parser.add_argument("--include-rejects", action="store_true",
                        help="also upload rejects/, contaminated/ and near_duplicates/ (records and rows the build "
                             "removed; off by default)")
    parser.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded and stop")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = files_to_upload(args.folder, include_rejects=args.include_rejects)
        card = card_text(args.folder, args.repo_id)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"toolcall push: error: {exc}", file=sys.stderr)
        return 2
    action = "would upload" if args.dry_run else "uploading"
    print(f"{action} {len(files)} files to dataset repo {args.repo_id}:")
    for path, size in files:
        print(f"  {path}  ({size:,} bytes)")
    examples = sorted(set(re.findall(r'load_dataset\("[^"]*"', card)))
    print(f"card: README.md, its examples call {', '.join(e + ')' for e in examples) or 'no load_dataset'}")
    if not args.include_rejects:
        print("rejects/ not uploaded (pass --include-rejects to publish the rejected original records and the rows "
              "removed as contaminated or near duplicates)")
    if args.dry_run:
        return 0
    try:
        url = push_dataset(args.folder, args.repo_id, private=args.private, revision=args.revision,
                           include_rejects=args.include_rejects)
    except Exception as exc:  # network/auth errors from huggingface_hub; message never contains the token
        print(f"toolcall push: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"pushed: {url}")
    return 0
