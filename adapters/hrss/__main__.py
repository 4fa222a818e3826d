import sys

from adapters.common.cli import main
from adapters.hrss import FAMILY

sys.exit(main(FAMILY))
