import sys

from adapters.common.cli import main
from adapters.medical_insurance import FAMILY

sys.exit(main(FAMILY))
