from cog.cli.entry import main

main()
