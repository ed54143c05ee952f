"""The Beam pipelines and the `gifrank` command line.

    cli           `gifrank COMMAND`: the table of subcommands, each imported only when called; logging set-up
    stage         how a pipeline stage is declared and launched (options, parser, run, main)
    scrape, align, featurize, evaluate, predict    the pipelines, one module each
    transforms/   the Beam building blocks they share: workers as transforms, tables, dead letters, C3D, ranker
    commands/     the commands that are not pipelines: align one video, shots, tables, predict, demo
    scraping/     the scrape pipeline's units of work, free of Beam: web client, site adapters, metadata

Importing any of them configures no logger: the entry points do (pipelines.cli.configure_logging).
"""
