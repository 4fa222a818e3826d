import sys

from adapters.common.cli import main
from adapters.zlb import FAMILY

sys.exit(main(FAMILY))
