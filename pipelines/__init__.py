"""The Beam pipelines and the `gifrank` command line.

    cli           `gifrank COMMAND`: the table of subcommands, each imported only when called
    stage         how a pipeline stage is declared and launched (options, parser, run, main)
    scrape, align, featurize    the pipelines, one module each
    transforms/   the Beam building blocks they share: workers as transforms, tables, dead letters, C3D
    commands/     the commands that are not pipelines: align one video, shots, tables, demo
    scraping/     the scrape pipeline's units of work, free of Beam: web client, site adapters, metadata
"""
