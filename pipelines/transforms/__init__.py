"""Beam transforms the pipelines share: ApplyWorker (Beam-free workers, dead letters), table reads,
bucket writes and the commit step, dead-letter tables, RunInference's C3D handler, progress lines."""
