# SPDX-License-Identifier: LGPL-3.0-or-later
import os

GLOBAL_SEED = int(os.environ.get("DP_UT_GLOBAL_SEED", 20240604))
