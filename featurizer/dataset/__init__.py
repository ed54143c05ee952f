"""The dataset layer, used by every stage, the trainer and the evaluation alike.

    storage            dataset roots: a local folder or gs://bucket/prefix (pyarrow.fs)
    blobs              content-addressed blobs under ROOT/blobs/
    tables             every table's schema and layout, defined once
    table_store        the stored tables as Delta Lake tables under ROOT/tables/ (the only deltalake user)
    table_writes       rows into a table: bucket rewrites and write_rows, the one writer
    feature_sets       which feature set a command reads, and one video's segments with their fc6
    training_view      labels joined with features, streamed, for training
    table_views        every table a reader can name: stored tables and the views (dead letters, segments)
    dead_letter_rows   what becomes a dead letter (is_bad_input) and its row

Imports nothing else of gifrank.
"""
