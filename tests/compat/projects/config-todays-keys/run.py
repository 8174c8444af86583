from cog import BaseRunner, Input


class Runner(BaseRunner):
    def run(self, text: str = Input(default="hello", min_length=1)) -> str:
        return text.upper()
