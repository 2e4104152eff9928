"""A small two-song album on disk that tests edit and build, and a second album over its stems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import yaml

from mixbuild.pipeline import api

SR = 48000


def write_stem(path: Path, freq_hz: float, seconds: float = 2.0, seed: int = 0) -> None:
    """A decaying tone plus a little noise, written as 24-bit WAV."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    audio = 0.3 * np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / 1.5) + 0.01 * rng.standard_normal(t.size)
    soundfile.write(str(path), audio, SR, subtype="PCM_24")


def song_spec(name: str) -> dict:
    """A three-stem song (kick to a drums bus, compressed bass, lead sent to a reverb bus)."""
    return {"title": name.title(), "stems": {
        "kick": {"file": f"stems/{name}-kick.wav", "gain_db": -3.0, "output": "drums"},
        "bass": {"file": f"stems/{name}-bass.wav", "gain_db": -4.0,
                 "compressor": {"threshold_db": -2.0, "ratio": 2.0, "knee_db": 0.0}},
        "lead": {"file": f"stems/{name}-lead.wav", "pan": 0.2, "sends": {"verb": -12.0}},
    }, "buses": {"drums": {"gain_db": -1.0}, "verb": {"reverb": {"decay_s": 0.4}}}}


class Project:
    """An album on disk that tests edit and build, with its own cache and output dir."""

    def __init__(self, root: Path, mode: str = "track"):
        self.root = root
        (root / "stems").mkdir(parents=True)
        for i, name in enumerate(("one", "two")):
            for j, (stem, freq) in enumerate((("kick", 60.0), ("bass", 110.0), ("lead", 440.0))):
                write_stem(root / "stems" / f"{name}-{stem}.wav", freq * (1 + i / 10), seed=10 * i + j)
        self.spec = {"title": "Test Album", "artist": "Tester", "sample_rate": SR,
                     "master": {"album_loudness": mode, "compressor": {"threshold_db": -20, "ratio": 1.5}},
                     "targets": {"streaming": {"preset": "streaming"}},
                     "songs": [song_spec("one"), song_spec("two")]}
        self.path = root / "album.yaml"
        self.save()

    def save(self, text: str | None = None) -> None:
        self.path.write_text(text if text is not None else yaml.safe_dump(self.spec, sort_keys=False))

    def build(self, jobs: int = 1, out: str = "build", **kw) -> api.Report:
        return api.build(self.path, cache_dir=self.root / "cache", out_dir=self.root / out, jobs=jobs, **kw)

    def plan(self):
        return {e.id: e for e in api.plan(self.path, cache_dir=self.root / "cache", out_dir=self.root / "build")}


def second_album(project: Project) -> Path:
    """Another album over the same stem files: songs in the other order, another title and master."""
    spec = dict(project.spec)
    spec["title"] = "Other Album"
    spec["songs"] = list(reversed(project.spec["songs"]))
    spec["master"] = {"album_loudness": "album", "compressor": {"threshold_db": -18, "ratio": 1.5}}
    path = project.root / "album2.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
