from scrapeguard.cli import main

main()
