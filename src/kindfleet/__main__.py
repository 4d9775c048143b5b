from kindfleet.console import main

main()
