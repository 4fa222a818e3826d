import sys

from adapters.common.cli import main
from adapters.health import FAMILY

sys.exit(main(FAMILY))
