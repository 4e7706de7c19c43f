import sys

from emulators.nextcloud.cli import main

sys.exit(main())
