import sys

from adapters.common.cli import main
from adapters.insurance_regulator import FAMILY

sys.exit(main(FAMILY))
