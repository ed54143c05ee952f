"""The Beam pipelines and the `gifrank` command line.

    cli           `gifrank COMMAND`: the table of subcommands, each imported only when called
    stage         how a pipeline stage is declared and launched (options, parser, run, main)
    scrape, align, featurize, evaluate, predict    the pipelines, one module each
    transforms/   the Beam building blocks they share: workers as transforms, tables, dead letters, C3D, ranker
    commands/     the commands that are not pipelines: align one video, shots, tables, predict, demo
    scraping/     the scrape pipeline's units of work, free of Beam: web client, site adapters, metadata
"""
import logging

# Beam's notes about optional extras a run does not use (GCP clients, memory metrics on this
# platform), that no --runner means DirectRunner, and the plumbing of a model shared by a
# machine's processes (RunInference's proxy servers): nothing a user can act on. Beam logs
# them on the root logger, some as it is imported, before any command runs: so the filter
# sits on the root logger from the package's first import.
IRRELEVANT_WARNINGS = ("apitools not found", "Resource module is not available for current platform",
                       "Missing pipeline option (runner)", "Starting proxy server at", "Done starting server",
                       "Connecting to remote proxy at")


def drop_irrelevant(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(IRRELEVANT_WARNINGS)


logging.getLogger().addFilter(drop_irrelevant)
