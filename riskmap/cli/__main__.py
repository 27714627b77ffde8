from riskmap.cli import main

main()
