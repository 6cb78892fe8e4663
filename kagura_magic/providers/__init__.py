"""Model providers that ship with kagura-magic (the offline demo models).

Importing ``demo`` imports litellm, so this package first makes sure litellm
will use its bundled model cost map: without that, litellm's import fetches
the map from the internet (a 5 s timeout offline, then retry warnings).
"""

from __future__ import annotations

import os

COST_MAP_SWITCH = "LITELLM_LOCAL_MODEL_COST_MAP"


def use_local_cost_map() -> None:
    """Tell litellm to read its bundled price list, unless the user chose otherwise."""
    os.environ.setdefault(COST_MAP_SWITCH, "True")


use_local_cost_map()
