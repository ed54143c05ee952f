"""The align pipeline: every GIF of the gifs table placed in its source video -> the alignments table.

    gifrank align-dataset --dataset ./data
    python -m pipelines.align --dataset ./data --runner DataflowRunner ...

GIFs are grouped by video so each video is decoded and hashed once. GIFs that do not
align go to the dead letters with the reason, as do GIFs and videos that cannot be read:
a blob over its media's size cap (featurizer.media: MAX_GIF_BYTES, MAX_VIDEO_BYTES) is
refused by its size (too_large) before a byte of it is read. GIFs already aligned by
the same aligner from the same GIF and video bytes are skipped unless --realign is given.
"""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from featurizer.align.alignment_rows import VideoAligner, gif_subjects
from featurizer.dataset import tables
from pipelines.stage import Stage
from pipelines.transforms.apply_worker import ApplyWorker
from pipelines.transforms.dead_letters import WriteDeadLetters
from pipelines.transforms.table_io import CommitTables, ReadTable, WriteTable, settled_values, table_snapshots

PIPELINE = "align"


class AlignOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--min-confidence", dest="min_confidence", type=float, default=0.0,
                            help="alignments below this confidence go to the dead letters (default: %(default)s)")
        parser.add_argument("--realign", action="store_true",
                            help="align every GIF again, even those already aligned by this aligner")


def _already_aligned(row: dict, done: dict, aligner: str) -> bool:
    return done.get(row["gif_id"]) == (row["gif_sha256"], row["video_sha256"], aligner)


def build_pipeline(p: beam.Pipeline, opts: AlignOptions, dataset: str, run_id: str):
    from featurizer.align.aligner import ALIGNER  # lazy: keeps `--help` free of the media stack

    dead_spec = tables.DEADLETTERS[PIPELINE]
    snapshots = table_snapshots(dataset, (tables.GIFS, tables.ALIGNMENTS, dead_spec))
    gifs = p | "ReadGifs" >> ReadTable(dataset, tables.GIFS, snapshots[tables.GIFS.name])
    existing = p | "ReadAlignments" >> ReadTable(dataset, tables.ALIGNMENTS, snapshots[tables.ALIGNMENTS.name],
                                                 columns=["gif_id", "gif_sha256", "video_sha256", "aligner"])
    if not opts.realign:
        done = beam.pvalue.AsDict(existing | "DoneKeys" >> beam.Map(
            lambda r: (r["gif_id"], (r["gif_sha256"], r["video_sha256"], r["aligner"]))))
        gifs = gifs | "SkipAligned" >> beam.Filter(lambda r, d: not _already_aligned(r, d, ALIGNER), done)
    aligned, dead = (
        gifs
        | "ByVideo" >> beam.Map(lambda r: (r["video_sha256"], r))
        | "GroupByVideo" >> beam.GroupByKey()
        | "SpreadVideos" >> beam.Reshuffle()
        | "Align" >> ApplyWorker(VideoAligner(dataset, opts.min_confidence), pipeline=PIPELINE, stage="align",
                                 describe=lambda group: gif_subjects(group[1]),
                                 measure=lambda row: {"gifs_aligned": 1}))
    actions = (
        {"rows": aligned} | "WriteAlignments" >> WriteTable(dataset, tables.ALIGNMENTS,
                                                            snapshots[tables.ALIGNMENTS.name]),
        {"dead": dead, "settled": settled_values(aligned, ("gif_id",))}
        | "WriteDeadLetters" >> WriteDeadLetters(dataset, PIPELINE, snapshots[dead_spec.name]))
    actions | "AllActions" >> beam.Flatten() | "Commit" >> CommitTables(
        dataset, PIPELINE, run_id, snapshots, (tables.ALIGNMENTS, dead_spec))
    return aligned, dead


STAGE = Stage(
    name=PIPELINE, command="gifrank align-dataset", options=AlignOptions, build=build_pipeline,
    description="Align every GIF in a dataset's gifs table to its source video (a Beam pipeline) and write the "
                "alignments table; unaligned GIFs go to the dead letters.")
run = STAGE.run

if __name__ == "__main__":
    STAGE.main()
