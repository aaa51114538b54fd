from mimicgen.cli import main

main()
