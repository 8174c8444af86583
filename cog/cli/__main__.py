from cog.cli.main import main

main()
