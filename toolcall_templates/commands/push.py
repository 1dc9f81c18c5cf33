"""``toolcall push``: publish a built folder to the Hub (``--dry-run`` lists what would be uploaded)."""

from __future__ import annotations

import argparse
import sys

from ..build.push import files_to_upload, push_dataset


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("push", help="publish a built dataset folder to the Hugging Face Hub",
                                   description="Upload DIR to a dataset repository with huggingface_hub. The token "
                                               "comes from HF_TOKEN or `hf auth login` and is never printed.")
    parser.add_argument("folder", metavar="DIR")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--revision", help="branch to push to")
    parser.add_argument("--dry-run", action="store_true", help="list the files that would be uploaded and stop")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        files = files_to_upload(args.folder)
    except FileNotFoundError as exc:
        print(f"toolcall push: error: {exc}", file=sys.stderr)
        return 2
    action = "would upload" if args.dry_run else "uploading"
    print(f"{action} {len(files)} files to dataset repo {args.repo_id}:")
    for path, size in files:
        print(f"  {path}  ({size:,} bytes)")
    if args.dry_run:
        return 0
    try:
        url = push_dataset(args.folder, args.repo_id, private=args.private, revision=args.revision)
    except Exception as exc:  # network/auth errors from huggingface_hub; message never contains the token
        print(f"toolcall push: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"pushed: {url}")
    return 0
