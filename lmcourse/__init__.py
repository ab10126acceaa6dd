"""lmcourse: the small package the course notebooks build and then import.

Each module holds one idea, written once: a notebook builds it in plain view, then shows
that the version here gives the same result. Start with ``notebooks/00_welcome.ipynb``;
``docs/modules.md`` says which notebook builds each module and which notebooks use it.
"""

__version__ = "0.1.0"

from .device import environment_summary, pick_device, set_seed  # noqa: E402
from .profiles import Profile, get_profile  # noqa: E402

__all__ = ["Profile", "get_profile", "pick_device", "set_seed", "environment_summary", "__version__"]
