from cog import Model, input

STYLES = ["plain", "poetic"]


class CaptionModel(Model):
    def setup(self):
        self.prefix = "caption"

    # the number of refinement steps
    @input("steps", type=int, help="Refinement steps", default=4, min=1, max=16)
    @input("style", type=str, options=STYLES, default="plain")  # one of STYLES
    @input("temperature", type=float, default=0.7, min=0.0, max=2.0)
    @input("verbose", type=bool, default=False)
    def run(self, style, steps, temperature, verbose):
        return f"{self.prefix} ({style}, {steps} steps, t={temperature}, verbose={verbose})"
