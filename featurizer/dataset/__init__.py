"""The dataset layer, used by every stage, the trainer and the evaluation alike.

    storage            dataset roots: a local folder or gs://bucket/prefix (pyarrow.fs)
    blobs              content-addressed blobs under ROOT/blobs/
    tables             every table's schema and layout, defined once
    table_store        the tables as Delta Lake tables under ROOT/tables/ (the only deltalake user)
    training_view      labels joined with features, streamed, for training
    dead_letter_rows   what becomes a dead letter (is_bad_input) and its row

Imports nothing else of gifrank.
"""
