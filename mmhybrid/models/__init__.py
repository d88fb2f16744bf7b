from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .balancers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .norms import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
