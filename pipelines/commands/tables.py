"""`gifrank tables`: what a dataset's tables hold, and one snapshot of a table as a single Parquet file.

    gifrank tables --dataset ROOT                      # one JSON line per table
    gifrank tables --dataset ROOT --export gifs --out gifs.parquet [--version 3]
    gifrank tables --dataset ROOT --export segments --out train.parquet   # the training view
    gifrank tables --dataset ROOT --vacuum [--retain-hours 168] [--keep features@12 ...] [--dry-run]

Exports stream in record batches: a table of any size goes through a few batches of memory.

A --dataset that does not exist is an error, whatever is asked of it (never an empty
listing or an empty export). In a dataset that exists, a table no run has committed yet
(no stage has made rows for it: a clean run's dead letters, the features before `gifrank
featurize`) holds no rows: it is listed as version null, and exports as an empty file in
its schema. --out is checked (a file, in a folder that can be written) before anything is read.
"""
from __future__ import annotations

import argparse
import json
import sys

VIEW_HELP = "segments (labels joined with features, for training) or deadletter (every pipeline's)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gifrank tables", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dataset", default="./data", help="dataset root, which must exist: a folder or gs://bucket/prefix")
    parser.add_argument("--export", metavar="TABLE", help=f"a table to write out, or a view: {VIEW_HELP}")
    parser.add_argument("--out", metavar="FILE.parquet", help="where --export writes (a path or gs:// URI)")
    parser.add_argument("--version", type=int, help="the table's version to export (default: the latest)")
    parser.add_argument("--feature-extractor", dest="feature_extractor",
                        help="segments view: whose features (needed when the table holds several)")
    parser.add_argument("--segmenter", help="segments view: whose segments (needed when the table holds several)")
    parser.add_argument("--vacuum", action="store_true",
                        help="delete files no version needs: removed more than --retain-hours ago, or never "
                             "committed (left by killed runs); prints one JSON line per table")
    parser.add_argument("--retain-hours", dest="retain_hours", type=float, default=168.0,  # Delta Lake's week
                        help="--vacuum keeps every version younger than this (default: %(default)s)")
    parser.add_argument("--keep", action="append", default=[], metavar="TABLE@VERSION",
                        help="--vacuum keeps this version readable whatever its age (one a training run "
                             "recorded); repeatable")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true", help="--vacuum only lists the files")
    return parser


def _kept_versions(specs: list[str], known) -> dict[str, list[int]]:
    kept: dict[str, list[int]] = {}
    for item in specs:
        table, sep, version = item.partition("@")
        if not sep or not version.isdigit() or table not in known:
            raise ValueError(f"--keep takes TABLE@VERSION with a stored table, got {item!r}")
        kept.setdefault(table, []).append(int(version))
    return kept


def _export_spec(args, tables):
    """The table or view --export names (None: no export), once the options agree with each other."""
    if args.vacuum:
        if args.export:
            raise ValueError("--vacuum and --export are separate runs")
        return None
    if not args.export:
        if args.out or args.version is not None:
            raise ValueError("--out and --version go with --export TABLE")
        return None
    if not args.out:
        raise ValueError("--export needs --out FILE.parquet")
    known = {**tables.STORED_TABLES, **tables.VIEWS}
    if args.export not in known:
        raise ValueError(f"no table {args.export!r}; tables: {', '.join(sorted(known))}")
    spec = known[args.export]
    if spec.name in tables.VIEWS and args.version is not None:
        raise ValueError(f"{spec.name} is a view over several tables: it has no --version of its own")
    return spec


def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    from featurizer.dataset import table_store, table_views, tables
    from featurizer.dataset.storage import DatasetRoot, check_output_file

    args = build_parser().parse_args(argv)
    spec = _export_spec(args, tables)
    kept = _kept_versions(args.keep, tables.STORED_TABLES) if args.vacuum else {}
    root = DatasetRoot.open(args.dataset)
    root.check_exists()
    if spec:
        check_output_file(args.out)
    if args.vacuum:
        for stored in tables.STORED_TABLES.values():
            deleted = table_store.vacuum(root, stored, args.retain_hours, kept.get(stored.name, ()), args.dry_run)
            print(json.dumps({"table": stored.name, "deleted_files": len(deleted), "dry_run": args.dry_run}),
                  file=out)
        return 0
    if not spec:
        for stored in tables.STORED_TABLES.values():
            print(json.dumps(table_store.table_info(root, stored)), file=out)
        return 0
    # A stored table is read at the version it is reported at; a view has none (_export_spec).
    version = table_store.snapshot(root, spec, args.version).version if spec.name in tables.STORED_TABLES else None
    batches = table_views.iter_view_batches(root, spec, version=version, segmenter=args.segmenter,
                                            feature_extractor=args.feature_extractor)
    rows = table_store.write_single_file(batches, spec.schema, args.out)
    print(json.dumps({"table": spec.name, "version": version, "rows": rows, "out": args.out}), file=out)
    return 0
