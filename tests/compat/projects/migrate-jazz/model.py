import cog

from composer import JazzSoloComposer


class JazzSoloComposerModel(cog.Model):
    """Generate melody and chords from partial lead sheets"""

    def setup(self):
        self.model = JazzSoloComposer.from_pretrained("./saved_model")

    @cog.input("notes", type=str, help="Partial notes")
    @cog.input("chords", type=str, help="Partial chords")
    @cog.input("strategy", type=str, help="Either 'sample' or 'sequential'")
    def run(self, notes, chords, strategy):
        return self.model(notes, chords, strategy)
