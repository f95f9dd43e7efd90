import sys

from etalage.cli import main

sys.exit(main())
