"""Actions: one module per kind of page change, registered here in one ordered list."""

from .banner import Banner
from .base import Action, CompileContext, PageContext
from .hide import Hide
from .insert import Insert
from .popin import Popin
from .set import Set
from .sort import Sort

__all__ = ["ACTIONS", "Action", "CompileContext", "PageContext"]

ACTIONS: dict[str, type[Action]] = {action.kind: action for action in (Banner, Sort, Popin, Insert, Hide, Set)}
