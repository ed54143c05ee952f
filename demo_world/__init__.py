"""The demo world: procedural videos with known shots, GIFs cut from them with known spans, and the
demo GIF website that serves them on loopback. It stands in for the open web in `make demo`, the
tests and the benchmarks; nothing in featurizer or pipelines depends on it.

    world      build_world(root, WorldConfig()): videos, GIFs, manifest, truth
    videos     procedural footage rendered with FFmpeg
    source_formats  videos re-shipped as the web ships them (display matrix, HD bars, VP9, AV1)
    gifmaker   GIFs the way GIF makers cut them (crops, bars, captions, speed)
    web_gifs   GIFs the way GIF sites make them (watermarks, boomerangs, slow motion, optimisers)
    replicate  a larger world from copies of one, for throughput benchmarks
    site/      the demo GIF website (real HTTP, robots.txt, faults on demand)
"""
