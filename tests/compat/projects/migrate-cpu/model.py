"""Counts words: a CPU model in the original API."""
import cog


class Counter(cog.Model):
    def setup(self):
        self.separator = None

    @cog.input("text", help="What to count the words of")
    def run(self, text) -> int:
        return len(text.split(self.separator))
