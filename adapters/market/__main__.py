import sys

from adapters.common.cli import main
from adapters.market import FAMILY

sys.exit(main(FAMILY))
