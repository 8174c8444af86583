"""A tiny jazz lead-sheet composer: continues a melody and its chords with transition tables, in plain Python.

Notes are written in scientific pitch notation ("C4 Eb4 F#4"), chords as symbols ("Dm7 G7 Cmaj7"), one chord a
bar and four quarter notes a bar. The answer is the whole lead sheet, input and continuation, in ABC notation.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
NOTE = re.compile(r"^([A-G])([#b]?)(-?\d)$")
CHORD = re.compile(r"^([A-G])([#b]?)(maj7|m7b5|dim7|m7|m6|7|6|m|)$")
ABC_ACCIDENTALS = {"#": "^", "b": "_", "": "="}
STRATEGIES = ("sample", "sequential")


def parse_note(text: str) -> int:
    """'C4' -> 60 (MIDI note number)."""
    match = NOTE.match(text)
    if not match:
        raise ValueError(f"notes: {text!r} is not a note like C4, Eb4 or F#3")
    letter, accidental, octave = match.groups()
    return 12 * (int(octave) + 1) + PITCH_CLASSES[letter] + {"#": 1, "b": -1, "": 0}[accidental]


def parse_chord(text: str) -> tuple[int, str]:
    """'Dm7' -> (2, 'm7'): the root's pitch class and the quality."""
    match = CHORD.match(text)
    if not match:
        raise ValueError(f"chords: {text!r} is not a chord like Cmaj7, Dm7, G7, Bm7b5, C#dim7, Fm6, Am or Bb")
    letter, accidental, quality = match.groups()
    return (PITCH_CLASSES[letter] + {"#": 1, "b": -1, "": 0}[accidental]) % 12, quality


class JazzSoloComposer:
    def __init__(self, tables: dict):
        self.tables = tables
        low, high = tables["melody_range"]
        self.low, self.high = parse_note(low), parse_note(high)

    @classmethod
    def from_pretrained(cls, directory: str) -> "JazzSoloComposer":
        return cls(json.loads((Path(directory) / "model.json").read_text()))

    def __call__(self, notes: str, chords: str, strategy: str) -> str:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be 'sample' or 'sequential', not {strategy!r}")
        melody = [parse_note(text) for text in notes.split()]
        progression = [parse_chord(text) for text in chords.split()]
        per_bar = self.tables["notes_per_bar"]
        if not progression or len(melody) != per_bar * len(progression):
            raise ValueError(f"give {per_bar} notes for each chord: {len(progression)} chords need "
                             f"{per_bar * len(progression)} notes, got {len(melody)}")
        rng = random.Random(f"{self.tables['seed']}:{notes}:{chords}") if strategy == "sample" else None
        new_chords, new_melody = [], []
        for _ in range(self.tables["bars_to_add"]):
            chord = self.next_chord((progression + new_chords)[-1], rng)
            new_chords.append(chord)
            for beat in range(per_bar):
                new_melody.append(self.next_note(melody + new_melody, chord, beat, rng))
        return to_abc(melody, progression, new_melody, new_chords, per_bar, strategy)

    def next_chord(self, chord: tuple[int, str], rng: random.Random | None) -> tuple[int, str]:
        root, quality = chord
        options = [((root + interval) % 12, following, weight)
                   for interval, following, weight in self.tables["chord_transitions"][quality]]
        return _choose([(option[:2], option[2]) for option in options], rng)

    def next_note(self, melody: list[int], chord: tuple[int, str], beat: int, rng: random.Random | None) -> int:
        root, quality = chord
        scale = {(root + step) % 12 for step in self.tables["scales"][quality]}
        chord_tones = {(root + step) % 12 for step in self.tables["chord_tones"][quality]}
        previous = melody[-1]
        direction = 1 if len(melody) < 2 or melody[-1] >= melody[-2] else -1
        interval_weights = self.tables["interval_weights"]
        options = []
        for pitch in range(self.low, self.high + 1):
            leap = abs(pitch - previous)
            if pitch % 12 not in scale or leap >= len(interval_weights):
                continue
            weight = interval_weights[leap]
            if beat % 2 == 0 and pitch % 12 in chord_tones:
                weight *= self.tables["strong_beat_chord_tone_weight"]
            if (pitch - previous) * direction > 0:
                weight *= self.tables["same_direction_weight"]
            if weight > 0:
                options.append((pitch, weight))
        return _choose(options, rng)


def _choose(options: list, rng: random.Random | None):
    """The heaviest option (the first of equals) without a random generator, else a weighted draw."""
    if rng is None:
        return max(options, key=lambda option: option[1])[0]
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


def to_abc(melody, progression, new_melody, new_chords, per_bar: int, strategy: str) -> str:
    def bars(notes, chords):
        return " ".join(
            f'"{chord_name(chord)}" {abc_bar(notes[index * per_bar:(index + 1) * per_bar])} |'
            for index, chord in enumerate(chords)
        )

    return "\n".join([
        "X:1",
        f"T:Jazz solo continuation ({strategy})",
        "M:4/4",
        "L:1/4",
        "K:C",
        bars(melody, progression),
        "% continuation",
        bars(new_melody, new_chords),
    ])


def chord_name(chord: tuple[int, str]) -> str:
    root, quality = chord
    return NAMES[root] + quality


def abc_bar(notes: list[int]) -> str:
    """One bar in ABC: an accidental holds until the bar line, so each note says only what changes."""
    held: dict[tuple[str, int], str] = {}
    written = []
    for pitch in notes:
        name, octave = NAMES[pitch % 12], pitch // 12 - 1
        letter, accidental = name[0], name[1:]
        mark = ABC_ACCIDENTALS[accidental] if held.get((letter, octave), "") != accidental else ""
        held[(letter, octave)] = accidental
        written.append(mark + abc_letter(letter, octave))
    return " ".join(written)


def abc_letter(letter: str, octave: int) -> str:
    """C4 is C, C5 is c, C6 is c', C3 is C,."""
    if octave >= 5:
        return letter.lower() + "'" * (octave - 5)
    return letter + "," * (4 - octave)
