import random
import time
from collections import defaultdict

from cog import BasePredictor, ConcatenateIterator, Input

SENTENCE_ENDS = (".", "!", "?")
MAX_WORDS = 200


class Predictor(BasePredictor):
    def setup(self):
        """Learn which word follows each pair of words in corpus.txt: a second-order Markov chain of words."""
        words = open("corpus.txt", encoding="utf-8").read().split()
        self.followers = defaultdict(list)
        for first, second, following in zip(words, words[1:], words[2:]):
            self.followers[first.lower(), second.lower()].append(following)
            self.followers[second.lower(),].append(following)
        self.followers[()] = [following for word, following in zip(words, words[1:]) if word.endswith(SENTENCE_ENDS)]

    def predict(
        self,
        prompt: str = Input(default="The keeper", description="The first words of the story"),
        sentences: int = Input(default=2, ge=1, le=10, description="How many sentences to end"),
        seed: int = Input(default=0, description="Same seed, same story"),
        delay: float = Input(default=0.05, ge=0.0, le=1.0, description="Seconds between words, to watch them arrive"),
    ) -> ConcatenateIterator[str]:
        rng = random.Random(seed)
        words = prompt.split()
        if words:
            yield " ".join(words)
        ended = 0
        while ended < sentences and len(words) < MAX_WORDS:
            time.sleep(delay)
            word = rng.choice(self.next_words(words))
            yield (" " if words else "") + word
            words.append(word)
            ended += word.endswith(SENTENCE_ENDS)

    def next_words(self, words):
        """What followed the last two words in the corpus, else the last one, else what starts a sentence."""
        context = tuple(word.lower() for word in words[-2:])
        return self.followers.get(context) or self.followers.get(context[-1:]) or self.followers[()]
