import cog


class Model(cog.Model):
    def setup(self):
        pass

    @cog.input("text", type=str)
    def run(self, text):
        return text
