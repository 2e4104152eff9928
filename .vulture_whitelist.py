"""What vulture (`make test`) must not report: definitions that something other than our code calls.

vulture finds dead code by name: a definition counts as used when its name is read anywhere it scans.
Each line below reads one such name through the module that defines it, so only these entry points are
exempt and anything else nothing uses is still reported. Add a line when you add an entry point.
Never imported by the product; `python .vulture_whitelist.py` checks that every name still exists.
"""

import tempfile

from mutagen.ogg import OggPage

import mixbuild
from mixbuild.pipeline import codeversion, executor
from mixbuild.pipeline.cli import build, common, spec
from mixbuild.pipeline.specs import master
from mixbuild.stages import (album_export, album_loudness, album_tonal, bus, delivery, export, final, params, pick,
                             song_loudness, stem, tagged)
from mixbuild.stages import master as master_stage
from mixbuild.stages.dsp import convolve, crossover, delay, eq, reverb

# Stage kernels: `@stage` registers each in stages.registry.KINDS; the executor calls `kind.render`.
album_export.render_album_export
album_loudness.render_album_loudness
album_tonal.render_album_tonal
bus.render_bus
bus.render_mixdown
export.render_export
final.render_final
master_stage.render_master
pick.render_pick
song_loudness.render_song_loudness
stem.render_stem
tagged.render_tagged

# CLI commands: `@app.command()` registers each with typer (the others share a name vulture sees used).
build.demo
build.warm
common._options
spec.validate
spec.schema
spec.analyze
spec.init

# pydantic: validators `@model_validator` registers with their model, and the models' configuration.
master.Target._apply_preset
delivery.Encoding._format_holds_depth
params.Delay._one_time
params.Automation._check
params.SpecModel.model_config

# Module hooks Python calls (PEP 562): `mixbuild.load` and `dir(mixbuild)` reach the API imported on first use.
mixbuild.__getattr__
mixbuild.__dir__

# Attributes a library reads: mutagen writes a page's `serial` (stages/formats.py); Python shows an
# exception's `__cause__` (pipeline/atomic.py).
OggPage.serial
BaseException.__cause__

# A test hook (tests/engine/test_keys.py): forget memoised code versions after editing a stage.
codeversion.clear_code_version_memo

# DSP's whole-signal forms: the kernels stream (Convolver, DelayLoop, sosfilt with state, Compressor, MonoBass), and
# the reference tests and benchmarks (scipy, pedalboard) call these one-call forms of the same code.
delay.apply_delay
reverb.apply_reverb
convolve.fft_convolve
eq.apply_sos
crossover.mono_bass

# The bound the reference tests hold the float32 convolution to (tests/dsp/test_reverb.py, test_delay.py).
convolve.ERROR_OF_PEAK

# Read by tempfile.gettempdir(): a served fork resets it to read the command's TMPDIR (pipeline/serve.py).
tempfile.tempdir

# A build-report field the next build reads back from the JSON by name (pipeline/plan.last_render_seconds).
executor.NodeResult.render_seconds
