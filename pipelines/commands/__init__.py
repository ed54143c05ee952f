"""`gifrank` commands that are not Beam pipelines: align one video's GIFs, detect shots, inspect and
export tables, and the demo (which runs every pipeline on the demo world)."""
