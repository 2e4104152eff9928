"""Spec models and loading: Album -> Song -> Stem, Bus, Master, Target."""

from .album import Album, AlbumFile, AlbumSettings
from .errors import Problem, SpecError
from .load import load
from .master import PRESETS, Master, Target
from mixbuild.stages.formats import FORMATS
from mixbuild.stages.params import Automation, Compressor, Delay, Limiter, Reverb, Send, TonalMatch
from .song import Bus, Song, Stem

__all__ = [
    "Album", "AlbumFile", "AlbumSettings", "Automation", "Bus", "Compressor", "Delay", "FORMATS",
    "Limiter", "Master", "PRESETS", "Problem", "Reverb", "Send", "Song", "SpecError", "Stem",
    "Target", "TonalMatch", "load",
]
