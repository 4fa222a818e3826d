import sys

from adapters.common.cli import main
from adapters.police import FAMILY

sys.exit(main(FAMILY))
