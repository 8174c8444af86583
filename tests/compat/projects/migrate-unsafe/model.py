import os

import cog


class Greeter(cog.Model):
    def setup(self):
        pass

    @cog.input("name", type=str, default=os.environ.get("GREETER_NAME", "world"))
    def run(self, name):
        return f"hello, {name}"
