import sys

from emulators.dropbox.cli import main

sys.exit(main())
