"""A 16/24-bit WAV export packs its PCM itself, behind libsndfile's header: the file's bytes are those
libsndfile writes, byte for byte, and it decodes (soundfile) to the samples whose facts the export reports."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from mixbuild.stages import export


def render(final: np.ndarray, bits: int) -> tuple[bytes, np.ndarray, dict]:
    params = export.ExportParams(sample_rate_hz=44_100, format="wav", bit_depth=bits, dither_seed=11)
    packed = export.packed_wav_bytes(params, *final.shape)
    out = export.render_export(export.ExportInputs(final=final), params)
    return out["file"].data.read_bytes(), packed, out["facts"]


@pytest.mark.parametrize("bits", [16, 24])
@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("frames", [70_000, 70_001])
def test_packed_wav_is_libsndfiles_bytes(monkeypatch, bits, channels, frames):
    rng = np.random.default_rng(channels)
    final = (0.5 * rng.standard_normal((frames, channels))).clip(-1.2, 1.2)  # clipped codes too
    ours, packed, facts = render(final, bits)
    data_bytes = final.size * bits // 8
    assert packed == (data_bytes if data_bytes % 2 == 0 else 0)  # an odd size (pad byte) is libsndfile's
    monkeypatch.setattr(export, "packed_wav_bytes", lambda *args: 0)  # every block through libsndfile
    theirs, _, their_facts = render(final, bits)
    assert ours == theirs and facts == their_facts
    decoded, rate = soundfile.read(io.BytesIO(ours), dtype="float32", always_2d=True)
    assert rate == 44_100 and decoded.shape == final.shape
    assert np.abs(decoded - final.clip(-1.0, 1.0)).max() <= 2.0 ** (1 - bits) * 1.5  # within TPDF's +-1 LSB and rounding


def test_an_empty_or_odd_sized_wav_goes_through_libsndfile():
    p16 = export.ExportParams(sample_rate_hz=48_000, format="wav", bit_depth=16)
    p24 = export.ExportParams(sample_rate_hz=48_000, format="wav", bit_depth=24)
    flac = export.ExportParams(sample_rate_hz=48_000, format="flac", bit_depth=24)
    assert export.packed_wav_bytes(p16, 0, 2) == 0
    assert export.packed_wav_bytes(p24, 3, 1) == 0 and export.packed_wav_bytes(p24, 4, 1) == 12
    assert export.packed_wav_bytes(flac, 4, 2) == 0


def test_a_full_disk_names_the_packed_file(tmpfs):
    """The PCM written behind libsndfile's header fails on a full disk with the file's name (the write's own
    ENOSPC names none), which is what the build's one line prints."""
    from mixbuild.stages.registry import SCRATCH_FILES

    mnt = tmpfs("1m")
    path = mnt / "export.wav"
    token = SCRATCH_FILES.set(lambda suffix: mnt / f"scratch{suffix}")
    try:
        params = export.ExportParams(sample_rate_hz=44_100, format="wav", bit_depth=16)
        final = np.zeros((300_000, 2))  # 1.2 MB of PCM
        assert export.packed_wav_bytes(params, *final.shape)
        with pytest.raises(OSError) as failure:
            export.encode(final, params, path)
    finally:
        SCRATCH_FILES.reset(token)
    assert failure.value.filename == str(path) and "No space left" in str(failure.value)
