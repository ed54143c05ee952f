"""Reading media: streaming video decoding (PyAV), GIF inspection and compositing, sniffing by magic
bytes, area resizing, one-thread BLAS/OpenCV sections, and MediaError, the refusal a pipeline
turns into a dead letter. Imports nothing else of gifrank."""
