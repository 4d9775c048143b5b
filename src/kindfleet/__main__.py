from kindfleet.cli import main

main()
