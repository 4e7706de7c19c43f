import sys

from emulators.google_drive.cli import main

sys.exit(main())
